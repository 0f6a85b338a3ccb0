/**
 * After training: choose between the final and the best-by-loss adapter on a cheap subset of completion tasks,
 * evaluate the chosen one against its base model on the holdout (the newest commits), check it did not forget the
 * previous run's holdout, and decide whether it is activated. With the gate on (the default) an adapter is served
 * only when it wins beyond chance and did not forget; otherwise it stays on disk and the reason is reported. The
 * report is written as JSON beside the run, with the holdout itself (holdout.json) for the next run's check.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateAdapter } from '../eval/evaluate';
import { checkForgetting, writeHoldout } from '../eval/forgetting';
import { chooseCheckpoint, type CheckpointCandidate, type CheckpointChoice } from '../eval/checkpointChoice';
import { formatReport } from '../eval/report';
import type { TaskSource } from '../eval/tasks';
import type { RetrievalIndex } from '../retrieval/repoIndex';
import { ensureBaseOnnxLike } from '../models/modelStore';
import type { ExportQuantization } from '../protocol';
import { EXPORT_TIMEOUT_MS, type TrainerProcess } from '../training/trainerProcess';
import type { ActiveRun } from './runStore';

/** Completion tasks per evaluation inside a fine-tune (each is one generation per arm). */
export const PIPELINE_EVAL_TASKS = 64;
export const EVALUATION_FILE = 'evaluation.json';

export interface ActivationDecision {
  activate: boolean;
  reason: string;
  evaluation?: { table: string; reportPath: string };
}

export interface ActivationInput {
  trainer: TrainerProcess;
  storageDir: string;
  modelDir: string;
  adapterOnnxDir: string;
  runDir: string;
  holdout: readonly TaskSource[];
  /** Index of the training files: adds the "+retrieval" arms, which the gate then compares. */
  retrieval?: RetrievalIndex;
  seed: number;
  gate: boolean;
  /** The adapter the workspace serves now, if any: the new one must not forget that run's holdout. */
  previous?: ActiveRun;
  /** How the evaluated adapter was chosen among the run's checkpoints (recorded in the report). */
  checkpoint?: CheckpointChoice;
  signal?: AbortSignal;
}

export async function evaluateAndDecide(input: ActivationInput): Promise<ActivationDecision> {
  if (input.holdout.length === 0) {
    return input.gate
      ? { activate: false, reason: 'No held-out code (newest commits) to evaluate the adapter on, so it was not activated. Commit more history, or turn off repotune.evaluation.gate to activate it anyway.' }
      : { activate: true, reason: 'Activated without evaluation: the gate is off and there is no held-out code.' };
  }
  writeHoldout(input.runDir, input.seed, input.holdout);
  const evaluated = await evaluateAdapter({
    modelDir: input.modelDir,
    baseOnnxDir: await ensureBaseOnnxLike(input.trainer, input.storageDir, input.modelDir, input.adapterOnnxDir),
    adapterOnnxDir: input.adapterOnnxDir,
    holdout: input.holdout,
    retrieval: input.retrieval,
    seed: input.seed,
    maxTasks: PIPELINE_EVAL_TASKS,
    signal: input.signal,
  });
  const forgetting = input.previous
    ? await checkForgetting({ previous: input.previous, modelDir: input.modelDir, newOnnxDir: input.adapterOnnxDir, signal: input.signal })
    : undefined;
  const report = { ...evaluated, checkpoint: input.checkpoint, forgetting };
  const reportPath = path.join(input.runDir, EVALUATION_FILE);
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2));
  const evaluation = { table: formatReport(report), reportPath };
  const reasons = [report.gate.reason, ...(forgetting ? [forgetting.reason] : [])].join(' ');
  if (!input.gate) return { activate: true, reason: `Activated because the gate is off. ${reasons}`, evaluation };
  if (forgetting?.refuse) return { activate: false, reason: forgetting.reason, evaluation };
  return { activate: report.gate.activate, reason: reasons, evaluation };
}

export interface CheckpointInput {
  trainer: TrainerProcess;
  modelDir: string;
  runDir: string;
  final: { adapterDir: string; onnxDir: string; step: number };
  /** The trainer's lowest-eval-loss adapter (<output_dir>/best), when it differs from the final one. */
  best?: { adapterDir: string; step: number };
  holdout: readonly TaskSource[];
  retrieval?: RetrievalIndex;
  seed: number;
  /** Weights of the exports (the final one's too): servingQuantization.ts. */
  quantize: ExportQuantization;
  signal?: AbortSignal;
}

/** Final vs best-by-loss adapter, decided on completion tasks; the best one is exported only when it competes. */
export async function chooseAdapterCheckpoint(input: CheckpointInput): Promise<{ adapterDir: string; onnxDir: string; choice: CheckpointChoice }> {
  const candidates: CheckpointCandidate[] = [{ name: 'final', ...input.final }];
  if (input.best && input.best.step !== input.final.step) candidates.push({ name: 'best-eval-loss', ...input.best });
  const { choice, winner } = await chooseCheckpoint({
    modelDir: input.modelDir,
    candidates,
    holdout: input.holdout,
    retrieval: input.retrieval,
    seed: input.seed,
    signal: input.signal,
    exportOnnx: async (c) => {
      const out = await input.trainer.request<{ onnx_dir: string }>(
        'export_onnx',
        { model_dir: input.modelDir, adapter_dir: c.adapterDir, out_dir: path.join(input.runDir, `onnx-${c.name}`), quantize: input.quantize },
        EXPORT_TIMEOUT_MS,
      );
      return out.onnx_dir;
    },
  });
  return { adapterDir: winner.adapterDir, onnxDir: winner.onnxDir, choice };
}
