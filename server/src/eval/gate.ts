/**
 * The adapter gate: an adapter is activated only when it beats the baseline on the primary metric (edit
 * similarity) by more than chance — the lower bound of the paired bootstrap interval of (adapter − baseline) must be
 * above zero. The baseline is base + retrieval when retrieval runs (the real competitor: no training at all),
 * otherwise the base model. An adapter that does not win is kept on disk, not served, and the reason says why.
 */
import { pairedDifference, type Estimate } from './metrics';

export const PRIMARY_METRIC = 'edit similarity';
/** Fewer tasks than this cannot show a real difference; the gate then refuses and says so. */
export const MIN_TASKS_FOR_GATE = 8;

export interface GateDecision {
  activate: boolean;
  reason: string;
  /** adapter − baseline on the primary metric, with its 95% interval. */
  difference: Estimate;
  compared: [string, string];
}

export interface ScoredArm {
  name: string;
  scores: readonly number[];
}

export function decideGate(adapter: ScoredArm, baseline: ScoredArm, seed = 0): GateDecision {
  const difference = pairedDifference(adapter.scores, baseline.scores, seed);
  const compared: [string, string] = [adapter.name, baseline.name];
  const fmt = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} pts`;
  const interval = `${fmt(difference.mean)} (95% CI ${fmt(difference.low)} … ${fmt(difference.high)})`;
  if (adapter.scores.length < MIN_TASKS_FOR_GATE) {
    return { activate: false, difference, compared, reason: `Only ${adapter.scores.length} holdout tasks (need ${MIN_TASKS_FOR_GATE}): too few to show the adapter helps. Not activated.` };
  }
  if (difference.low > 0) {
    return { activate: true, difference, compared, reason: `${adapter.name} beats ${baseline.name} on ${PRIMARY_METRIC} by ${interval}. Activated.` };
  }
  return {
    activate: false,
    difference,
    compared,
    reason:
      difference.mean <= 0
        ? `${adapter.name} does not beat ${baseline.name} on ${PRIMARY_METRIC}: ${interval}. Kept, not activated.`
        : `${adapter.name} is ahead of ${baseline.name} on ${PRIMARY_METRIC} by ${interval}, but not beyond chance. Kept, not activated.`,
  };
}
