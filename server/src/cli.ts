/**
 * `repotune`: the same core as the VS Code extension, headless (GPU servers, CI, the offline demo).
 *
 *   repotune demo [--steps N] [--storage DIR]            fine-tune on this repository with the DEMO model, show
 *                                                        a completion before and after, and where the adapter is
 *   repotune fine-tune <repo> [--model DIR] [--steps N] [--storage DIR] [--json]
 *   repotune harvest <repo> --out <dir>                  write the manifest and harvested corpus
 *   repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
 *   repotune env                                         what the Python worker sees (torch, CUDA, GPU memory)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { TrainerProcess, TrainerError } from './training/trainerProcess';
import { resolvePython } from './training/python';
import { runFineTune } from './pipeline/fineTune';
import { readActiveRun } from './pipeline/runStore';
import { harvest, writeManifest } from './harvest/harvest';
import { CompletionService } from './completion/service';
import { runDemo } from './pipeline/demo';
import type { ProgressParams } from './protocol';

/** Where the CLI keeps models, runs and adapters unless told otherwise. */
export const DEFAULT_STORAGE = process.env.REPOTUNE_HOME ?? path.join(os.homedir(), '.cache', 'repotune');
const SOURCE_ROOT = path.resolve(__dirname, '..');

const USAGE = `usage:
  repotune demo [--steps N] [--storage DIR]
  repotune fine-tune <repo> [--model DIR] [--steps N] [--storage DIR] [--json]
  repotune harvest <repo> --out <dir>
  repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
  repotune env`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      steps: { type: 'string' },
      storage: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
      line: { type: 'string' },
      col: { type: 'string' },
      workspace: { type: 'string' },
      python: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, target] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const storageDir = path.resolve(values.storage ?? DEFAULT_STORAGE);
  const steps = values.steps !== undefined ? positiveInt(values.steps, '--steps') : undefined;
  const makeTrainer = () =>
    new TrainerProcess({
      python: resolvePython({ configured: values.python, storageDir, sourceRoot: SOURCE_ROOT }),
      trainerDir: path.join(SOURCE_ROOT, 'server', 'trainer'),
      log: (level, message) => {
        if (level === 'error' || level === 'warning' || process.env.REPOTUNE_DEBUG) console.error(message);
      },
    });

  switch (command) {
    case 'harvest': {
      if (!target || !values.out) throw new UsageError('harvest needs <repo> and --out <dir>');
      const result = await harvest(path.resolve(target), {});
      const out = path.resolve(values.out);
      writeManifest(out, result);
      const corpus = path.join(out, 'corpus');
      for (const f of result.files) {
        const dest = path.join(corpus, f.split, f.path);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.writeFileSync(dest, f.text);
      }
      for (const n of result.notices) console.error(`note: ${n}`);
      console.log(JSON.stringify(result.manifest, null, 2));
      return 0;
    }
    case 'fine-tune': {
      if (!target) throw new UsageError('fine-tune needs <repo>');
      const trainer = makeTrainer();
      try {
        const outcome = await runFineTune(
          { workspace: path.resolve(target), modelDir: values.model && path.resolve(values.model), maxSteps: steps },
          { trainer, storageDir, onProgress: printProgress, log: () => undefined },
          abortOnSigint(),
        );
        if (values.json) console.log(JSON.stringify(outcome, null, 2));
        else console.log(`\nharvest: ${outcome.harvestSummary}\nadapter: ${outcome.adapterDir}${outcome.onnxDir ? `\nonnx:    ${outcome.onnxDir}` : ' (cancelled: not activated)'}`);
        return outcome.cancelled ? 130 : 0;
      } finally {
        await trainer.dispose();
      }
    }
    case 'complete': {
      if (!target || values.line === undefined || values.col === undefined) throw new UsageError('complete needs <file> --line N --col N');
      const file = path.resolve(target);
      const workspace = path.resolve(values.workspace ?? path.dirname(file));
      const active = readActiveRun(storageDir, workspace);
      if (!active) throw new UsageError(`No adapter for ${workspace} in ${storageDir}: run "repotune fine-tune ${workspace}" first.`);
      const text = fs.readFileSync(file, 'utf8');
      const offset = offsetAt(text, positiveInt(values.line, '--line') - 1, Number(values.col) - 1);
      const service = await CompletionService.create({ modelDir: active.modelDir, onnxDir: active.onnxDir });
      try {
        const result = await service.complete({ text, offset, languageId: path.extname(file).slice(1), path: path.relative(workspace, file) });
        console.log(result?.text ?? '');
      } finally {
        await service.dispose();
      }
      return 0;
    }
    case 'demo': {
      const trainer = makeTrainer();
      try {
        return await runDemo({ trainer, storageDir, workspace: SOURCE_ROOT, steps, onProgress: printProgress }, abortOnSigint());
      } finally {
        await trainer.dispose();
      }
    }
    case 'env': {
      const trainer = makeTrainer();
      try {
        console.log(JSON.stringify(await trainer.request('env'), null, 2));
        return 0;
      } finally {
        await trainer.dispose();
      }
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

class UsageError extends Error {}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function offsetAt(text: string, line: number, col: number): number {
  const lines = text.split('\n');
  if (line < 0 || line >= lines.length) throw new UsageError(`--line is outside the file (1..${lines.length})`);
  let offset = 0;
  for (let i = 0; i < line; i++) offset += lines[i].length + 1;
  return offset + Math.max(0, Math.min(col, lines[line].length));
}

let lastPrinted = '';
export function printProgress(p: ProgressParams): void {
  const pct = p.percent !== undefined ? `${Math.round(p.percent).toString().padStart(3)}%` : '    ';
  const extra = p.stage === 'train' && p.tokensPerSecond ? ` · ${Math.round(p.tokensPerSecond)} tok/s · ETA ${Math.round(p.etaSeconds ?? 0)} s` : '';
  const line = `[${pct}] ${p.stage}: ${p.message}${extra}`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (p.stage !== 'train' || line.split('·')[0] !== lastPrinted.split('·')[0]) {
    // Without a terminal, print a training line only every 10 steps so logs stay readable.
    if (p.stage !== 'train' || (p.step ?? 0) % 10 === 0 || p.step === p.totalSteps) console.error(line);
  }
  lastPrinted = line;
}

function abortOnSigint(): AbortSignal {
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ncancelling… (the last good adapter is kept)');
    abort.abort();
  });
  return abort.signal;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) console.error(`repotune: ${err.message}`);
    else if (err instanceof TrainerError) console.error(`repotune: ${err.message}`);
    else console.error(`repotune: ${(err as Error).message ?? err}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
