/**
 * After training: evaluate the new adapter against its base model on the holdout (the newest commits), and decide
 * whether it is activated. With the gate on (the default) an adapter is served only when it wins beyond chance;
 * otherwise it stays on disk and the reason is reported. The report is written as JSON beside the run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateAdapter } from '../eval/evaluate';
import { formatReport } from '../eval/report';
import type { TaskSource } from '../eval/tasks';
import type { RetrievalIndex } from '../retrieval/repoIndex';
import { ensureBaseOnnx } from '../models/modelStore';
import type { TrainerProcess } from '../training/trainerProcess';

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
  signal?: AbortSignal;
}

export async function evaluateAndDecide(input: ActivationInput): Promise<ActivationDecision> {
  if (input.holdout.length === 0) {
    return input.gate
      ? { activate: false, reason: 'No held-out code (newest commits) to evaluate the adapter on, so it was not activated. Commit more history, or turn off repotune.evaluation.gate to activate it anyway.' }
      : { activate: true, reason: 'Activated without evaluation: the gate is off and there is no held-out code.' };
  }
  const report = await evaluateAdapter({
    modelDir: input.modelDir,
    baseOnnxDir: await ensureBaseOnnx(input.trainer, input.storageDir, input.modelDir),
    adapterOnnxDir: input.adapterOnnxDir,
    holdout: input.holdout,
    retrieval: input.retrieval,
    seed: input.seed,
    maxTasks: PIPELINE_EVAL_TASKS,
    signal: input.signal,
  });
  const reportPath = path.join(input.runDir, EVALUATION_FILE);
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2));
  const evaluation = { table: formatReport(report), reportPath };
  if (input.gate) return { activate: report.gate.activate, reason: report.gate.reason, evaluation };
  return { activate: true, reason: `Activated because the gate is off. ${report.gate.reason}`, evaluation };
}
