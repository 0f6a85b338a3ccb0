/**
 * `repotune`: the same core as the VS Code extension, headless (GPU servers, CI, the offline demo).
 *
 *   repotune demo [--steps N] [--storage DIR]            fine-tune on this repository with the DEMO model, show
 *                                                        a completion before and after, and where the adapter is
 *   repotune fine-tune <repo> [--model DIR] [--steps N] [--lr X] [--no-gate] [--storage DIR] [--json]
 *   repotune harvest <repo> --out <dir>                  write the manifest and harvested corpus
 *   repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
  repotune evaluate <repo> [--tasks N] [--storage DIR] [--json]
 *   repotune generate --workspace DIR --task T --inputs "x: float32[B, 16]" --outputs "logits: float32[B, 4]"
 *                     --loss cross_entropy [--framework torch] [--run] [--target path.py] [--storage DIR]
 *                                                        write model code with the adapted model, check it (--run:
 *                                                        also run its smoke test, sandboxed), print code + results
 *   repotune evaluate <repo> [--tasks N]                 base vs adapter on the holdout, with the gate's verdict
 *   repotune examples <repo> [--n 5] [--seed S] [--model DIR]
 *                                                        a few training examples as the model sees them, with
 *                                                        ⟦context⟧ ⟦prefix⟧ ⟦MIDDLE⟧ ⟦/suffix⟧ marked
 *   repotune export-adapter <repo> --format peft|merged|onnx --out DIR [--quantize int8|int4] [--run-id ID] [--force]
 *                                                        write a run's adapter (default: the active one) elsewhere
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
import { formatSummary, harvest, writeCorpus, writeManifest } from './harvest/harvest';
import { HARVEST_CLI_OPTIONS, HARVEST_CLI_USAGE, harvestOptionsFromFlags } from './harvest/cliOptions';
import { CompletionService } from './completion/service';
import { runDemo } from './pipeline/demo';
import { buildRetrievalIndex } from './retrieval/repoIndex';
import { DEFAULT_SEED, DEFAULT_SEQ_LEN } from './pipeline/fineTune';
import { ensureDemoModel } from './models/modelStore';
import { DEFAULT_SHOWN_EXAMPLES, runExamplesCommand } from './examples/render';
import { evaluateAdapter } from './eval/evaluate';
import { formatReport } from './eval/report';
import { ensureBaseOnnx } from './models/modelStore';
import type { ExportFormat, ExportQuantization, GenerateModelCodeResult, ProgressParams } from './protocol';
import { ExportAdapterError, exportAdapter } from './pipeline/exportAdapter';
import { runGenerateRequest } from './generate/request';
import { SpecError } from './generate/spec';
import { NoAdapterError } from './generate/session';

/** Where the CLI keeps models, runs and adapters unless told otherwise. */
export const DEFAULT_STORAGE = process.env.REPOTUNE_HOME ?? path.join(os.homedir(), '.cache', 'repotune');
const SOURCE_ROOT = path.resolve(__dirname, '..');

const USAGE = `usage:
  repotune demo [--steps N] [--storage DIR]
  repotune fine-tune <repo> [--model DIR] [--steps N] [--lr X] [--no-gate] [--storage DIR] [--json]
  repotune harvest <repo> --out <dir> ${HARVEST_CLI_USAGE}
  repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
  repotune generate --workspace DIR --task T --inputs SPEC --outputs SPEC --loss NAME [--framework torch] [--run] [--target FILE] [--storage DIR] [--json]
  repotune examples <repo> [--n 5] [--seed S] [--model DIR]   print rendered training examples, spans marked
  repotune export-adapter <repo> --format peft|merged|onnx --out DIR [--quantize int8|int4] [--run-id ID] [--force] [--storage DIR]
  repotune env`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      steps: { type: 'string' },
      lr: { type: 'string' },
      storage: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
      line: { type: 'string' },
      col: { type: 'string' },
      workspace: { type: 'string' },
      python: { type: 'string' },
      json: { type: 'boolean' },
      n: { type: 'string' },
      seed: { type: 'string' },
      tasks: { type: 'string' },
      'no-gate': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      task: { type: 'string' },
      inputs: { type: 'string' },
      outputs: { type: 'string' },
      loss: { type: 'string' },
      framework: { type: 'string' },
      run: { type: 'boolean' },
      target: { type: 'string' },
      format: { type: 'string' },
      quantize: { type: 'string' },
      'run-id': { type: 'string' },
      force: { type: 'boolean' },
      ...HARVEST_CLI_OPTIONS,
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
      const out = path.resolve(values.out);
      const store = path.join(out, '.store'); // texts wait on disk, not in memory (flat in repository size)
      try {
        const result = await harvest(path.resolve(target), { ...harvestOptionsFromFlags(values), corpusDir: store });
        const manifestFile = writeManifest(out, result);
        const corpus = writeCorpus(out, result);
        for (const n of result.notices) console.error(`note: ${n}`);
        console.log(`${formatSummary(result.manifest)}
manifest:  ${manifestFile}
corpus:    ${corpus}`);
      } finally {
        fs.rmSync(store, { recursive: true, force: true });
      }
      return 0;
    }
    case 'fine-tune': {
      if (!target) throw new UsageError('fine-tune needs <repo>');
      const trainer = makeTrainer();
      try {
        const outcome = await runFineTune(
          { workspace: path.resolve(target), modelDir: values.model && path.resolve(values.model), maxSteps: steps, learningRate: learningRate(values.lr), gate: !values['no-gate'] },
          {
            trainer,
            storageDir,
            onProgress: printProgress,
            log: () => undefined,
            // Unattended: the summary is printed as soon as the harvest is done, and training goes on.
            onHarvested: (summary) => {
              if (!values.json) console.log(`\n${summary.text}\nmanifest:  ${summary.manifestPath}\n`);
              return true;
            },
          },
          abortOnSigint(),
        );
        if (values.json) console.log(JSON.stringify(outcome, null, 2));
        else {
          if (outcome.evaluation) console.log(`\n${outcome.evaluation.table}`);
          console.log(`\nharvest: ${outcome.harvestSummary}\nadapter: ${outcome.adapterDir}${outcome.onnxDir ? `\nonnx:    ${outcome.onnxDir}` : ''}`);
          console.log(`${outcome.activated ? 'active' : 'not active'}: ${outcome.activationReason}`);
        }
        return outcome.cancelled ? 130 : 0;
      } finally {
        await trainer.dispose();
      }
    }
    case 'export-adapter': {
      if (!target || !values.out || !values.format) throw new UsageError('export-adapter needs <repo>, --format peft|merged|onnx and --out <dir>');
      const abort = abortOnSigint();
      try {
        const result = await exportAdapter({
          storageDir,
          workspace: path.resolve(target),
          runId: values['run-id'],
          format: values.format as ExportFormat,
          quantize: (values.quantize ?? null) as ExportQuantization,
          targetDir: path.resolve(values.out),
          overwrite: values.force === true,
          makeWorker: makeTrainer,
          signal: abort,
          onProgress: (m) => console.error(m),
        });
        console.log(`exported run ${result.runId} to ${result.targetDir} (${result.files.length} files, ${(result.bytes / 1024 ** 2).toFixed(1)} MiB, ${result.seconds.toFixed(1)} s)`);
        return 0;
      } catch (err) {
        if (!(err instanceof ExportAdapterError)) throw err;
        const hint = err.kind === 'target_not_empty' ? ' (--force replaces it)' : '';
        console.error(`export-adapter: ${err.message}${hint}`);
        return err.kind === 'cancelled' ? 130 : 1;
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
      // Cross-file context as the sidecar serves it: an index of the workspace's harvested files.
      const indexed = (await harvest(workspace, {})).files.map((f) => ({ path: f.path, text: f.text }));
      const service = await CompletionService.create({ modelDir: active.modelDir, onnxDir: active.onnxDir, retrieval: buildRetrievalIndex(indexed) });
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
    case 'generate': {
      if (!values.workspace) throw new UsageError('generate needs --workspace DIR (a repository fine-tuned with "repotune fine-tune")');
      const workspace = path.resolve(values.workspace);
      const fields = { task: values.task, inputs: values.inputs, outputs: values.outputs, loss: values.loss, framework: values.framework };
      try {
        const result = await runGenerateRequest(
          // --run is the explicit confirmation: the CLI user asked for the generated code to be executed.
          { workspace, requestId: 'cli', fields, runSmokeTest: values.run === true, targetPath: values.target },
          {
            storageDir,
            python: resolvePython({ configured: values.python, storageDir, sourceRoot: SOURCE_ROOT }),
            trainerDir: path.join(SOURCE_ROOT, 'server', 'trainer'),
            signal: abortOnSigint(),
            log: (m) => (process.env.REPOTUNE_DEBUG ? console.error(m) : undefined),
          },
        );
        if (values.json) console.log(JSON.stringify(result, null, 2));
        else console.log(formatGenerateResult(result));
        return result.cancelled ? 130 : result.ok ? 0 : 1;
      } catch (err) {
        if (err instanceof SpecError || err instanceof NoAdapterError) throw new UsageError(err.message);
        throw err;
      }
    }
    case 'evaluate': {
      if (!target) throw new UsageError('evaluate needs <repo>');
      const workspace = path.resolve(target);
      const active = readActiveRun(storageDir, workspace);
      if (!active) throw new UsageError(`No adapter for ${workspace} in ${storageDir}: run "repotune fine-tune ${workspace}" first.`);
      const trainer = makeTrainer();
      try {
        const holdout = (await harvest(workspace, {})).files.filter((f) => f.split === 'holdout');
        const report = await evaluateAdapter({
          modelDir: active.modelDir,
          baseOnnxDir: await ensureBaseOnnx(trainer, storageDir, active.modelDir),
          adapterOnnxDir: active.onnxDir,
          holdout,
          maxTasks: values.tasks !== undefined ? positiveInt(values.tasks, '--tasks') : undefined,
        });
        fs.writeFileSync(path.join(active.runDir, 'evaluation.json'), JSON.stringify(report, null, 2));
        console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
        return 0;
      } finally {
        await trainer.dispose();
      }
    }
    case 'examples': {
      if (!target) throw new UsageError('examples needs <repo>');
      const trainer = values.model ? undefined : makeTrainer(); // only to generate the demo model's tokenizer once
      try {
        const modelDir = values.model ? path.resolve(values.model) : await ensureDemoModel(trainer!, storageDir);
        const n = values.n !== undefined ? positiveInt(values.n, '--n') : DEFAULT_SHOWN_EXAMPLES;
        const seed = values.seed !== undefined ? Number(values.seed) : DEFAULT_SEED;
        if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
        console.log(await runExamplesCommand(path.resolve(target), modelDir, { n, seed, seqLen: DEFAULT_SEQ_LEN, color: process.stdout.isTTY === true }));
        return 0;
      } finally {
        await trainer?.dispose();
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

function formatGenerateResult(r: GenerateModelCodeResult): string {
  const smoke = r.attempts.at(-1)?.smokeOutput;
  const parts = [`# ---- ${r.fileName} (${r.className}) ----`, r.code.trimEnd(), '# ---- checks ----', r.summary];
  if (smoke !== undefined) parts.push('# ---- smoke test output ----', smoke.trimEnd());
  return parts.join('\n');
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

/** --lr: a learning rate in (0, 1) as the trainer accepts it (args.py), or undefined for the default. */
function learningRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!(x > 0 && x < 1)) throw new UsageError(`--lr must be a number in (0, 1), got "${value}"`);
  return x;
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
