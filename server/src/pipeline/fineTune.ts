/**
 * The fine-tuning pipeline, read top to bottom: model → harvest → examples → train → export → checkpoint choice →
 * evaluate + forgetting check + gate (activation). The LSP server and
 * the CLI both call runFineTune; neither knows the stages' details.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { harvest, writeManifest } from '../harvest/harvest';
import { buildShards } from '../examples/shards';
import { detectFamily } from '../examples/families';
import { loadTokenizer } from '../models/tokenizer';
import { checkModelDir, ensureDemoModel, isDemoModel } from '../models/modelStore';
import { EXPORT_TIMEOUT_MS, QUICK_REQUEST_TIMEOUT_MS, TRAIN_SILENCE_TIMEOUT_MS, TrainerError, type TrainerProcess } from '../training/trainerProcess';
import type { FineTuneParams, FineTuneResult, HarvestSummaryParams, ProgressParams, Stage } from '../protocol';
import { newRunDir, readActiveRun, writeActiveRun, type ActiveRun } from './runStore';
import { chooseAdapterCheckpoint, evaluateAndDecide } from './activation';
import { parseServingQuantization, resolveServingQuantization } from './servingQuantization';
import { buildRetrievalIndex } from '../retrieval/repoIndex';
import { harvestSummaryOf, oneLineSummary } from './trainingConfirmation';

/** Steps of a demo run: enough for the tiny model to pick up the repository's commonest lines in about a minute. */
export const DEFAULT_DEMO_STEPS = 200;
/**
 * Passes over the training examples when the step count is left to us (0 or unset). Measured on bench/eval_demo
 * (issue 7: a pretrained demo-sized base, LoRA on pygments, 864 training examples): 200 steps (0.9 passes) gave
 * no significant gain on the newest-commit holdout (edit similarity −0.8 pts [−4.7, +4.2]), 800 steps (3.7
 * passes) +5.8 pts [+1.9, +9.9] with no forgetting beyond tolerance. A fixed count would be 40 passes over a small
 * repository (overfitting) and a sliver of a large one.
 */
export const AUTO_STEPS_EPOCHS = 4;
/** Bounds of the automatic step count: a few minutes on a GPU at the top, enough warm-up + decay at the bottom. */
export const AUTO_STEPS_MIN = 100;
export const AUTO_STEPS_MAX = 2000;

/** Optimizer steps for `trainExamples` examples in micro-batches of `batchSize` when the user did not choose. */
export function autoTrainingSteps(trainExamples: number, batchSize: number): number {
  const steps = Math.ceil((AUTO_STEPS_EPOCHS * Math.max(0, trainExamples)) / Math.max(1, batchSize));
  return Math.min(AUTO_STEPS_MAX, Math.max(AUTO_STEPS_MIN, steps));
}
/**
 * Sequence length and micro-batch of pipeline runs: 512 tokens leave room for retrieved cross-file context in the
 * prompt (at 256 the context share was ~30 tokens and snippets rarely fit); batch 4 keeps the tokens per step of
 * the earlier 8 × 256, so a demo run takes the same time.
 */
export const DEFAULT_SEQ_LEN = 512;
export const DEFAULT_BATCH_SIZE = 4;
export const DEFAULT_SEED = 0;
/** Learning rate for the demo model's random weights (measured best of 3e-3/6e-3/1e-2); real models use the trainer's default. */
export const DEMO_LEARNING_RATE = 6e-3;
/**
 * CPU threads for torch: one core is left to the sidecar and the editor. torch's default (all cores) was measured
 * 14× slower on 2 busy cores (threads spinning against each other), so the default is never used on CPU.
 */
export const CPU_TRAIN_THREADS = Math.max(1, os.availableParallelism() - 1);

/** Share of the overall progress bar each stage ends at (training dominates). */
const STAGE_END_PERCENT: Record<Stage, number> = { model: 5, harvest: 10, examples: 15, train: 85, export: 90, evaluate: 99, load: 100, done: 100 };

export interface PipelineDeps {
  trainer: TrainerProcess;
  storageDir: string;
  onProgress: (p: ProgressParams) => void;
  log: (level: 'debug' | 'info' | 'warning' | 'error', message: string) => void;
  /**
   * Called once the harvest is done, before anything is trained, with what was kept and left out. Resolves to
   * whether to train (the sidecar may ask the user); false ends the run as cancelled. Absent = train.
   */
  onHarvested?: (summary: HarvestSummaryParams) => boolean | Promise<boolean>;
}

export interface FineTuneOutcome extends FineTuneResult {
  /** The run now being served; undefined when the run was cancelled (nothing was activated). */
  run: ActiveRun | undefined;
  harvestSummary: string;
}

export async function runFineTune(params: FineTuneParams, deps: PipelineDeps, signal?: AbortSignal): Promise<FineTuneOutcome> {
  const stage = (s: Stage, message: string, extra: Partial<ProgressParams> = {}) =>
    deps.onProgress({ stage: s, message, percent: extra.percent ?? STAGE_END_PERCENT[s], ...extra });
  const checkCancelled = () => {
    if (signal?.aborted) throw new TrainerError('Fine-tuning was cancelled.', 'cancelled');
  };

  stage('model', 'Preparing the model…', { percent: 0 });
  const modelDir = params.modelDir ?? (await ensureDemoModel(deps.trainer, deps.storageDir));
  checkModelDir(modelDir);
  await checkServable(deps.trainer, modelDir);
  const demo = isDemoModel(modelDir);
  // Decided before training, so a bad setting fails in seconds, not after the run.
  const serving = resolveServingQuantization(parseServingQuantization(params.quantization), modelDir);
  deps.log('info', `The adapted model will be evaluated and served with ${serving.reason}.`);
  checkCancelled();

  stage('harvest', 'Reading the repository…', { percent: STAGE_END_PERCENT.model });
  const { runId, runDir } = newRunDir(deps.storageDir, params.workspace);
  // The corpus folder keeps harvested texts on disk (memory flat in repository size); it shows what was trained on.
  const harvested = await harvest(params.workspace, { corpusDir: path.join(runDir, 'corpus') });
  const manifestPath = writeManifest(runDir, harvested);
  for (const notice of harvested.notices) deps.log('info', notice);
  const trainFiles = harvested.files.filter((f) => f.split === 'train');
  if (trainFiles.length === 0) {
    throw new TrainerError(
      `No usable source files in ${params.workspace} (${harvested.excluded.length} left out). See ${path.join(runDir, 'manifest.json')}.`,
      'bad_data',
    );
  }
  const harvestSummary = oneLineSummary(harvested.manifest);
  checkCancelled();
  if (deps.onHarvested && !(await deps.onHarvested(harvestSummaryOf(harvested.manifest, params.workspace, manifestPath)))) {
    // Nothing was trained: the run folder (manifest and corpus copy) goes, so "Manage adapters" lists no empty run.
    fs.rmSync(runDir, { recursive: true, force: true });
    const reason = 'Cancelled before training: nothing was trained; the active adapter is unchanged.';
    stage('done', reason);
    return {
      adapterDir: '', onnxDir: '', steps: 0, finalLoss: 0, cancelled: true, filesUsed: trainFiles.length, examples: 0,
      harvestSummary, activated: false, activationReason: reason, run: undefined,
    };
  }

  stage('examples', `Building training examples from ${trainFiles.length} files…`, { percent: STAGE_END_PERCENT.harvest });
  const tok = loadTokenizer(modelDir);
  const family = detectFamily(tok, path.basename(modelDir));
  const seed = params.seed ?? DEFAULT_SEED;
  const dataDir = path.join(runDir, 'data');
  const shards = await buildShards(harvested.files, tok, family, { outDir: dataDir, seed, seqLen: DEFAULT_SEQ_LEN });
  checkCancelled();

  // 0 or unset: the user left the count to us (the VS Code setting's default is 0).
  const maxSteps = params.maxSteps || (demo ? DEFAULT_DEMO_STEPS : autoTrainingSteps(shards.examples.train, DEFAULT_BATCH_SIZE));
  stage('train', `Training a LoRA adapter (${maxSteps} steps)…`, { percent: STAGE_END_PERCENT.examples, step: 0, totalSteps: maxSteps });
  const trained = await train(deps, signal, {
    model_dir: modelDir,
    data_dir: dataDir,
    output_dir: runDir,
    max_steps: maxSteps,
    seq_len: DEFAULT_SEQ_LEN,
    batch_size: DEFAULT_BATCH_SIZE,
    seed,
    num_threads: CPU_TRAIN_THREADS,
    ...(params.learningRate !== undefined ? { learning_rate: params.learningRate } : demo ? { learning_rate: DEMO_LEARNING_RATE } : {}),
  });

  const result = {
    adapterDir: trained.adapter_dir,
    steps: trained.steps,
    finalLoss: trained.final_loss,
    filesUsed: trainFiles.length,
    examples: shards.examples.train,
    harvestSummary,
  };
  if (trained.cancelled) {
    // A cancelled run keeps its adapter on disk (and a checkpoint to resume from) but never replaces the adapter
    // being served: half a training run is not what the user asked to activate.
    const reason = `Cancelled after ${trained.steps} steps: the adapter so far is saved; the active adapter is unchanged.`;
    stage('done', reason);
    return { ...result, onnxDir: '', cancelled: true, activated: false, activationReason: reason, run: undefined };
  }

  stage('export', `Exporting the adapted model for serving${serving.quantize ? ` (${serving.quantize} weights)` : ''}…`);
  const exported = await deps.trainer.request(
    'export_onnx',
    { model_dir: modelDir, adapter_dir: trained.adapter_dir, out_dir: path.join(runDir, 'onnx'), quantize: serving.quantize },
    EXPORT_TIMEOUT_MS,
  );

  stage('evaluate', 'Evaluating base vs adapter on the newest commits…');
  const holdout = harvested.files
    .filter((f) => f.split === 'holdout')
    .map((f) => ({ path: f.path, text: f.text, language: f.language }));
  // Retrieval for the "+retrieval" arms searches the training files only, as serving-time context would.
  const retrieval = buildRetrievalIndex(trainFiles.map((f) => ({ path: f.path, text: f.text })));
  const chosen = await chooseAdapterCheckpoint({
    trainer: deps.trainer,
    modelDir,
    runDir,
    final: { adapterDir: trained.adapter_dir, onnxDir: exported.onnx_dir, step: trained.steps },
    best: trained.best_adapter_dir && trained.best_step != null ? { adapterDir: trained.best_adapter_dir, step: trained.best_step } : undefined,
    holdout,
    retrieval,
    seed,
    quantize: serving.quantize,
    signal,
  });
  deps.log('info', chosen.choice.reason);
  const decision = await evaluateAndDecide({
    trainer: deps.trainer,
    storageDir: deps.storageDir,
    modelDir,
    adapterOnnxDir: chosen.onnxDir,
    runDir,
    holdout,
    retrieval,
    seed,
    gate: params.gate ?? true,
    previous: readActiveRun(deps.storageDir, params.workspace),
    checkpoint: chosen.choice,
    signal,
  });
  deps.log('info', decision.reason);
  const outcome = {
    ...result,
    adapterDir: chosen.adapterDir,
    onnxDir: chosen.onnxDir,
    cancelled: false,
    activated: decision.activate,
    activationReason: decision.reason,
    evaluation: decision.evaluation,
  };
  if (!decision.activate) {
    stage('done', `Fine-tuning finished; the adapter was not activated. ${decision.reason}`);
    return { ...outcome, run: undefined };
  }
  const run: ActiveRun = {
    runId,
    runDir,
    modelDir,
    adapterDir: chosen.adapterDir,
    onnxDir: chosen.onnxDir,
    activatedAt: new Date().toISOString(),
  };
  writeActiveRun(deps.storageDir, params.workspace, run);
  stage('done', 'Fine-tuning finished; the new adapter is active.');
  return { ...outcome, run };
}

interface TrainResult {
  adapter_dir: string;
  steps: number;
  final_loss: number;
  cancelled: boolean;
  /** The lowest-eval-loss adapter (<output_dir>/best) and its step; absent when the run had no eval data. */
  best_adapter_dir?: string | null;
  best_step?: number | null;
}

async function train(deps: PipelineDeps, signal: AbortSignal | undefined, params: object): Promise<TrainResult> {
  const off = deps.trainer.on('progress', (p: any) => {
    const frac = p.total_steps > 0 ? p.step / p.total_steps : 0;
    deps.onProgress({
      stage: 'train',
      message: `step ${p.step}/${p.total_steps} · loss ${Number(p.loss).toFixed(3)}`,
      percent: STAGE_END_PERCENT.examples + frac * (STAGE_END_PERCENT.train - STAGE_END_PERCENT.examples),
      step: p.step,
      totalSteps: p.total_steps,
      loss: p.loss,
      ...(typeof p.eval_loss === 'number' ? { evalLoss: p.eval_loss } : {}),
      lr: p.lr,
      tokensPerSecond: p.tokens_per_s,
      etaSeconds: p.eta_s,
      deviceMemoryBytes: p.device_mem_bytes,
    });
  });
  const onAbort = () => void deps.trainer.request('cancel').catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await deps.trainer.request<TrainResult>('train', params, TRAIN_SILENCE_TIMEOUT_MS);
  } finally {
    off();
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Refuses, before anything is trained, a model the serving export cannot handle (the trainer's own check, from
 * config.json): otherwise a run would train for hours and then fail at the export.
 */
async function checkServable(trainer: TrainerProcess, modelDir: string): Promise<void> {
  try {
    await trainer.request('check_servable', { model_dir: modelDir }, QUICK_REQUEST_TIMEOUT_MS);
  } catch (err) {
    if (!(err instanceof TrainerError) || err.kind !== 'bad_model') throw err;
    throw new TrainerError(`RepoTune cannot serve completions from ${path.basename(modelDir)}, so it does not train it: ${err.message}. Choose a Qwen2.5-Coder, DeepSeek-Coder or StarCoder2 model.`, 'bad_model');
  }
}
