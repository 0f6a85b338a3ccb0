/**
 * Forgetting check for continual re-tuning. Each run saves its holdout (the newest commits' files at the time) as
 * holdout.json beside its evaluation. When a workspace already serves an adapter, the new adapter is also scored on
 * the PREVIOUS run's holdout, paired task by task with the previous adapter: a new adapter that learnt this week's
 * code by losing last week's is refused, even when it wins on its own holdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pairedDifference, type Estimate } from './metrics';
import { MIN_TASKS_FOR_GATE, PRIMARY_METRIC } from './gate';
import { buildTasks, type TaskSource } from './tasks';
import { scoreModel } from './evaluate';

export const HOLDOUT_FILE = 'holdout.json';
/**
 * Largest tolerated drop of the primary metric (edit similarity, 0..1) on the previous holdout: 2 points. Smaller
 * drops are noise of sampling and of the new data's different style; larger ones mean the model lost what it knew.
 */
export const FORGETTING_TOLERANCE = 0.02;
/** Tasks from the previous holdout (two generations each): enough for an interval, a fraction of the main evaluation. */
export const FORGETTING_TASKS = 32;

export interface SavedHoldout {
  version: 1;
  seed: number;
  files: TaskSource[];
}

export interface ForgettingDecision {
  /** True when the new adapter forgot beyond the tolerance and beyond chance: do not activate it. */
  refuse: boolean;
  reason: string;
  /** new − previous adapter on the previous holdout's tasks, primary metric, with its 95% interval. */
  difference: Estimate;
  tolerance: number;
}

export interface ForgettingReport extends ForgettingDecision {
  previousRunDir: string;
  tasks: number;
  previousScore: Estimate;
  newScore: Estimate;
}

export function writeHoldout(runDir: string, seed: number, files: readonly TaskSource[]): void {
  const saved: SavedHoldout = { version: 1, seed, files: files.map((f) => ({ path: f.path, text: f.text, language: f.language })) };
  fs.writeFileSync(path.join(runDir, HOLDOUT_FILE), JSON.stringify(saved));
}

/** The holdout a run saved; undefined when there is none (runs from before this check) or it is unreadable. */
export function readHoldout(runDir: string): SavedHoldout | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(runDir, HOLDOUT_FILE), 'utf8')) as SavedHoldout;
    const valid = saved.version === 1 && Array.isArray(saved.files) && saved.files.every((f) => typeof f.path === 'string' && typeof f.text === 'string');
    return valid ? saved : undefined;
  } catch {
    return undefined;
  }
}

const pts = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} pts`;

export function decideForgetting(newScores: readonly number[], previousScores: readonly number[], seed = 0, tolerance = FORGETTING_TOLERANCE): ForgettingDecision {
  const difference = pairedDifference(newScores, previousScores, seed);
  const interval = `${pts(difference.mean)} (95% CI ${pts(difference.low)} … ${pts(difference.high)})`;
  const base = { difference, tolerance };
  if (newScores.length < MIN_TASKS_FOR_GATE) {
    return { ...base, refuse: false, reason: `Forgetting check skipped: only ${newScores.length} tasks on the previous holdout (need ${MIN_TASKS_FOR_GATE}).` };
  }
  // Both conditions: a drop larger than the tolerance on average, and an interval entirely below zero (not chance).
  if (difference.mean < -tolerance && difference.high < 0) {
    return {
      ...base,
      refuse: true,
      reason: `The new adapter forgot the previous holdout: ${PRIMARY_METRIC} ${interval} vs the active adapter, beyond the ${pts(-tolerance)} tolerance. Kept, not activated; the previous adapter stays active.`,
    };
  }
  return { ...base, refuse: false, reason: `No forgetting beyond ${pts(-tolerance)} on the previous holdout: ${PRIMARY_METRIC} ${interval} vs the active adapter.` };
}

export interface ForgettingInput {
  previous: { runDir: string; modelDir: string; onnxDir: string };
  modelDir: string;
  newOnnxDir: string;
  maxTasks?: number;
  signal?: AbortSignal;
}

/** Scores both adapters on the previous run's holdout; undefined when that run saved none. */
export async function checkForgetting(input: ForgettingInput): Promise<ForgettingReport | undefined> {
  const saved = readHoldout(input.previous.runDir);
  if (!saved) return undefined;
  const tasks = buildTasks(saved.files, saved.seed, input.maxTasks ?? FORGETTING_TASKS);
  if (tasks.length === 0) return undefined;
  const common = { tasks, seed: saved.seed, signal: input.signal };
  const previous = await scoreModel({ ...common, modelDir: input.previous.modelDir, onnxDir: input.previous.onnxDir });
  const next = await scoreModel({ ...common, modelDir: input.modelDir, onnxDir: input.newOnnxDir });
  return {
    ...decideForgetting(next.scores, previous.scores, saved.seed),
    previousRunDir: input.previous.runDir,
    tasks: tasks.length,
    previousScore: previous.editSimilarity,
    newScore: next.editSimilarity,
  };
}
