/**
 * The offline demo (README quick start): fine-tune the DEMO model on a repository (RepoTune's own by default) and
 * show one completion from the base model and one from the adapted model at the same place, so a user sees the
 * whole path work — harvest, training, export, serving — without a model hub or a GPU.
 */
import { harvest } from '../harvest/harvest';
import { CompletionService } from '../completion/service';
import { ensureBaseOnnx, ensureDemoModel } from '../models/modelStore';
import type { TrainerProcess } from '../training/trainerProcess';
import type { ProgressParams } from '../protocol';
import { runFineTune } from './fineTune';

/** A probe line must be at least this long, so that half of it is something worth completing. */
export const PROBE_MIN_LINE_CHARS = 30;
const PROBE_LANGUAGES = new Set(['typescript', 'javascript', 'python']);

export interface Probe {
  path: string;
  language: string;
  line: number;
  prefix: string;
  suffix: string;
  expected: string;
}

/** A deterministic place to complete: the middle of the first long code line of the first training file. */
export function chooseProbe(files: readonly { path: string; text: string; language: string; split: string }[]): Probe | undefined {
  for (const f of files) {
    if (f.split !== 'train' || !PROBE_LANGUAGES.has(f.language)) continue;
    const lines = f.text.split('\n');
    let offset = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      const code = l.trim();
      if (code.length >= PROBE_MIN_LINE_CHARS && !/^(\/\/|\*|\/\*|#|import|from)/.test(code)) {
        const cut = offset + l.length - Math.floor(code.length / 2);
        const lineEnd = offset + l.length;
        return { path: f.path, language: f.language, line: i + 1, prefix: f.text.slice(0, cut), suffix: f.text.slice(lineEnd), expected: f.text.slice(cut, lineEnd) };
      }
      offset += l.length + 1;
    }
  }
  return undefined;
}

export interface DemoOptions {
  trainer: TrainerProcess;
  storageDir: string;
  workspace: string;
  steps?: number;
  onProgress: (p: ProgressParams) => void;
}

export async function runDemo(opts: DemoOptions, signal?: AbortSignal): Promise<number> {
  const say = (s: string) => console.log(s);
  say(`RepoTune demo: fine-tuning the offline DEMO model (random weights, Qwen2 architecture) on ${opts.workspace}`);
  const modelDir = await ensureDemoModel(opts.trainer, opts.storageDir);
  const baseOnnx = await ensureBaseOnnx(opts.trainer, opts.storageDir, modelDir);

  const probe = chooseProbe((await harvest(opts.workspace, {})).files);
  const before = probe ? await completeOnce(modelDir, baseOnnx, probe) : undefined;

  let firstLoss: number | undefined;
  const onProgress = (p: ProgressParams) => {
    if (p.stage === 'train' && firstLoss === undefined && p.loss !== undefined) firstLoss = p.loss;
    opts.onProgress(p);
  };
  const outcome = await runFineTune({ workspace: opts.workspace, modelDir, maxSteps: opts.steps }, {
    trainer: opts.trainer,
    storageDir: opts.storageDir,
    onProgress,
    log: () => undefined,
  }, signal);
  const after = probe && outcome.onnxDir ? await completeOnce(modelDir, outcome.onnxDir, probe) : undefined;

  say('');
  say(`harvest:  ${outcome.harvestSummary}`);
  const lossStart = firstLoss !== undefined ? `${firstLoss.toFixed(3)} → ` : '';
  say(`training: ${outcome.steps} steps, loss ${lossStart}${outcome.finalLoss.toFixed(3)}${outcome.cancelled ? ' (cancelled)' : ''}`);
  if (probe) {
    say(`\ncompletion at ${probe.path}:${probe.line}, after: ${JSON.stringify(probe.prefix.slice(-40))}`);
    say(`  expected:               ${JSON.stringify(probe.expected)}`);
    say(`  before (base demo):     ${JSON.stringify(before ?? '')}`);
    say(`  after (with adapter):   ${JSON.stringify(after ?? '')}`);
  }
  if (outcome.evaluation) say(`\n${outcome.evaluation.table}`);
  say(`\nadapter (PEFT format): ${outcome.adapterDir}`);
  if (outcome.onnxDir) say(`ONNX export:           ${outcome.onnxDir}`);
  return outcome.cancelled ? 130 : 0;
}

async function completeOnce(modelDir: string, onnxDir: string, probe: Probe): Promise<string | undefined> {
  const service = await CompletionService.create({ modelDir, onnxDir });
  try {
    const text = probe.prefix + probe.suffix;
    const result = await service.complete({ text, offset: probe.prefix.length, languageId: probe.language, path: probe.path });
    return result?.text;
  } finally {
    await service.dispose();
  }
}
