/**
 * Evaluation of an adapter against its base model on the holdout, read top to bottom: tasks → one arm per model
 * (and, when a retriever is given, per model with retrieved cross-file context) → metrics with bootstrap
 * intervals → bits per byte → the gate. Predictions go through the serving pipeline (CompletionService: prefilter,
 * prompt builder, engine, stream filters), so the score is the score of what a user would see.
 */
import { CompletionService } from '../completion/service';
import { OrtThreadEngine } from '../completion/engine/ortThread';
import { readOnnxModelInfo } from '../completion/engine/onnxMetadata';
import type { ExportQuantization } from '../protocol';
import { loadTokenizer } from '../models/tokenizer';
import type { RetrievalIndex } from '../retrieval/repoIndex';
import { bitsPerByte, bootstrapMean, editSimilarity, exactMatch, firstLineExactMatch, type Estimate } from './metrics';
import { buildTasks, DEFAULT_MAX_TASKS, type EvalTask, type TaskSource } from './tasks';
import { decideGate, type GateDecision } from './gate';
import type { CheckpointChoice } from './checkpointChoice';
import type { ForgettingReport } from './forgetting';

/** Holdout text scored for bits per byte, per arm model: enough for a stable figure, bounded in time. */
export const MAX_BPB_TOKENS = 2048;

export type ArmName = 'base' | 'base+retrieval' | 'adapter' | 'adapter+retrieval';

export interface ModelScores {
  exactMatch: Estimate;
  editSimilarity: Estimate;
  firstLineExactMatch: Estimate;
  /** Per task, in task order: edit similarity (the primary metric, paired across arms by the gate). */
  scores: number[];
  predictions: string[];
}

export interface ArmResult extends ModelScores {
  name: ArmName;
}

export interface EvalReport {
  version: 1;
  seed: number;
  tasks: { id: string; kind: string; target: string }[];
  arms: ArmResult[];
  bitsPerByte: { base: number; adapter: number };
  /** The weights each arm ran with (its export's quantization; fp32 unless pipeline/servingQuantization.ts chose). */
  weights?: { base: WeightsName; adapter: WeightsName };
  gate: GateDecision;
  createdAt: string;
  /** Added by the pipeline: how the evaluated checkpoint was chosen, and the forgetting check (continual re-tuning). */
  checkpoint?: CheckpointChoice;
  forgetting?: ForgettingReport;
}

/** An export's weights as a report names them: its quantization, or fp32. */
export type WeightsName = Exclude<ExportQuantization, null> | 'fp32';

const weightsOf = (onnxDir: string): WeightsName => readOnnxModelInfo(onnxDir).weightQuantization ?? 'fp32';

export interface EvaluateOptions {
  modelDir: string;
  baseOnnxDir: string;
  adapterOnnxDir: string;
  holdout: readonly TaskSource[];
  seed?: number;
  maxTasks?: number;
  /**
   * Index of the TRAINING files for cross-file context; when given, the "+retrieval" arms run too and the gate
   * compares those. Holdout files must not be in it: they would hand the model the answers.
   */
  retrieval?: RetrievalIndex;
  signal?: AbortSignal;
}

export async function evaluateAdapter(opts: EvaluateOptions): Promise<EvalReport> {
  const seed = opts.seed ?? 0;
  const tasks = buildTasks(opts.holdout, seed, opts.maxTasks ?? DEFAULT_MAX_TASKS);
  if (tasks.length === 0) throw new Error('The holdout has no code to build completion tasks from: nothing to evaluate.');

  const arms: ArmResult[] = [];
  for (const [name, onnxDir, retrieval] of [
    ['base', opts.baseOnnxDir, false],
    ['adapter', opts.adapterOnnxDir, false],
    ...(opts.retrieval ? [['base+retrieval', opts.baseOnnxDir, true], ['adapter+retrieval', opts.adapterOnnxDir, true]] : []),
  ] as [ArmName, string, boolean][]) {
    const scores = await scoreModel({ modelDir: opts.modelDir, onnxDir, tasks, retrieval: retrieval ? opts.retrieval : undefined, seed, signal: opts.signal });
    arms.push({ name, ...scores });
  }

  const holdoutText = opts.holdout.map((f) => f.text).join('\n');
  const bpb = {
    base: await holdoutBitsPerByte(opts.modelDir, opts.baseOnnxDir, holdoutText, opts.signal),
    adapter: await holdoutBitsPerByte(opts.modelDir, opts.adapterOnnxDir, holdoutText, opts.signal),
  };
  const byName = (n: ArmName) => arms.find((a) => a.name === n);
  const gate = decideGate(byName('adapter+retrieval') ?? byName('adapter')!, byName('base+retrieval') ?? byName('base')!, seed);
  return {
    version: 1,
    seed,
    tasks: tasks.map((t) => ({ id: t.id, kind: t.kind, target: t.target })),
    arms,
    bitsPerByte: bpb,
    weights: { base: weightsOf(opts.baseOnnxDir), adapter: weightsOf(opts.adapterOnnxDir) },
    gate,
    createdAt: new Date().toISOString(),
  };
}

export interface ScoreModelOptions {
  modelDir: string;
  onnxDir: string;
  tasks: readonly EvalTask[];
  retrieval?: RetrievalIndex;
  seed: number;
  signal?: AbortSignal;
}

/** One model (base or adapted ONNX export) on the tasks, through the serving pipeline. */
export async function scoreModel(opts: ScoreModelOptions): Promise<ModelScores> {
  const { tasks, seed } = opts;
  const service = await CompletionService.create({ modelDir: opts.modelDir, onnxDir: opts.onnxDir, retrieval: opts.retrieval });
  const predictions: string[] = [];
  try {
    for (const task of tasks) {
      if (opts.signal?.aborted) throw new Error('Evaluation was cancelled.');
      const result = await service.complete({
        text: task.prefix + task.suffix,
        offset: task.prefix.length,
        languageId: task.language,
        path: task.path,
      });
      predictions.push(result?.text ?? '');
    }
  } finally {
    await service.dispose();
  }
  const es = tasks.map((t, i) => editSimilarity(predictions[i], t.target));
  return {
    exactMatch: bootstrapMean(tasks.map((t, i) => exactMatch(predictions[i], t.target)), seed),
    editSimilarity: bootstrapMean(es, seed),
    firstLineExactMatch: bootstrapMean(tasks.map((t, i) => firstLineExactMatch(predictions[i], t.target)), seed),
    scores: es,
    predictions,
  };
}

async function holdoutBitsPerByte(modelDir: string, onnxDir: string, text: string, signal?: AbortSignal): Promise<number> {
  const tok = loadTokenizer(modelDir);
  const ids = tok.encode(text).slice(0, MAX_BPB_TOKENS);
  if (ids.length < 2) return 0;
  // Bytes of exactly the scored tokens (the first token is context only).
  const bytes = Buffer.byteLength(tok.decode(ids.slice(1)), 'utf8');
  // On a thread of its own: a run per token, for up to MAX_BPB_TOKENS tokens, must not hold the sidecar's event loop.
  const engine = await OrtThreadEngine.load(onnxDir);
  try {
    const { nats } = await engine.negLogLikelihood(ids, signal);
    return bitsPerByte(nats, bytes);
  } finally {
    await engine.dispose();
  }
}
