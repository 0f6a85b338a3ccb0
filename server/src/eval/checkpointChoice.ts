/**
 * Checkpoint choice by completion metrics, not loss alone. The trainer keeps two adapters: the final one and the
 * one with the lowest holdout loss (<output_dir>/best). Lower loss does not always mean better completions (loss
 * rewards hedging over many tokens; a user sees one greedy suggestion), so a cheap subset of completion tasks
 * decides between them; the full evaluation and the gate then run on the chosen one.
 */
import { bootstrapMean, type Estimate } from './metrics';
import { buildTasks, type TaskSource } from './tasks';
import { scoreModel } from './evaluate';
import type { RetrievalIndex } from '../retrieval/repoIndex';

/** Tasks of the subset: two candidates × 16 generations keep the added time to a fraction of the full evaluation. */
export const CHECKPOINT_CHOICE_TASKS = 16;
/**
 * The subset is drawn with a different seed than the full evaluation, so the choice and the gate are not made on
 * the very same tasks (the choice would otherwise be scored on the data it was selected with).
 */
export const CHECKPOINT_TASK_SEED_OFFSET = 7919;

export type CheckpointName = 'final' | 'best-eval-loss';

export interface CheckpointCandidate {
  name: CheckpointName;
  adapterDir: string;
  /** Present once exported; chooseCheckpoint exports the ones without it. */
  onnxDir?: string;
  step?: number;
}

export interface CheckpointChoice {
  chosen: CheckpointName;
  reason: string;
  tasks: number;
  scores: { name: CheckpointName; step?: number; editSimilarity: Estimate }[];
}

/** Highest mean edit similarity wins; a tie keeps the first candidate (the final adapter: no extra export served). */
export function pickCheckpoint(scored: { name: CheckpointName; step?: number; scores: readonly number[] }[], seed = 0): CheckpointChoice {
  if (scored.length === 0) throw new Error('pickCheckpoint needs at least one candidate');
  const withMeans = scored.map((c) => ({ name: c.name, step: c.step, editSimilarity: bootstrapMean(c.scores, seed) }));
  let winner = withMeans[0];
  for (const c of withMeans.slice(1)) if (c.editSimilarity.mean > winner.editSimilarity.mean) winner = c;
  const fmt = (c: (typeof withMeans)[number]) => `${c.name}${c.step !== undefined ? ` (step ${c.step})` : ''} ${(c.editSimilarity.mean * 100).toFixed(1)}%`;
  return {
    chosen: winner.name,
    tasks: scored[0].scores.length,
    scores: withMeans,
    reason: `Checkpoint by edit similarity on ${scored[0].scores.length} tasks: ${withMeans.map(fmt).join(' vs ')}; using ${winner.name}.`,
  };
}

export interface ChooseCheckpointInput {
  modelDir: string;
  candidates: CheckpointCandidate[];
  holdout: readonly TaskSource[];
  retrieval?: RetrievalIndex;
  seed: number;
  /** Exports an adapter for serving and returns its ONNX folder (the trainer's export_onnx in the pipeline). */
  exportOnnx: (candidate: CheckpointCandidate) => Promise<string>;
  maxTasks?: number;
  signal?: AbortSignal;
}

/** Scores each candidate on the subset and returns the choice with the winner's folders. */
export async function chooseCheckpoint(input: ChooseCheckpointInput): Promise<{ choice: CheckpointChoice; winner: Required<Pick<CheckpointCandidate, 'adapterDir' | 'onnxDir'>> & CheckpointCandidate }> {
  const seed = input.seed + CHECKPOINT_TASK_SEED_OFFSET;
  const tasks = buildTasks(input.holdout, seed, input.maxTasks ?? CHECKPOINT_CHOICE_TASKS);
  if (tasks.length === 0 || input.candidates.length === 1) {
    // Nothing to compare on (or nothing to compare): the first candidate, without exporting the others.
    const first = input.candidates[0];
    const winner = { ...first, onnxDir: first.onnxDir ?? (await input.exportOnnx(first)) };
    const reason = input.candidates.length === 1 ? `Only the ${first.name} adapter to choose from.` : `No holdout tasks to compare checkpoints on; using the ${first.name} adapter.`;
    return { choice: { chosen: first.name, reason, tasks: 0, scores: [] }, winner };
  }
  const exported: (CheckpointCandidate & { onnxDir: string })[] = [];
  for (const c of input.candidates) exported.push({ ...c, onnxDir: c.onnxDir ?? (await input.exportOnnx(c)) });
  const scored = [];
  for (const c of exported) {
    const s = await scoreModel({ modelDir: input.modelDir, onnxDir: c.onnxDir, tasks, retrieval: input.retrieval, seed, signal: input.signal });
    scored.push({ name: c.name, step: c.step, scores: s.scores });
  }
  const choice = pickCheckpoint(scored, seed);
  return { choice, winner: exported.find((c) => c.name === choice.chosen)! };
}
