/**
 * Completion metrics and their uncertainty. Exact match and edit similarity are the standard code-completion
 * measures (CodeXGLUE, RepoBench); first-line exact match is what a user accepting ghost text feels most; the
 * bootstrap gives a confidence interval so a user can see whether a difference between two arms is real.
 */
import { mulberry32 } from '../examples/prng';

/** Resamples of the bootstrap: enough for stable 95% percentile bounds at the task counts used here. */
export const BOOTSTRAP_RESAMPLES = 1000;
export const CONFIDENCE = 0.95;

/** Trailing whitespace of each line and surrounding blank lines do not count: editors and formatters change them. */
export function normalise(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

export function exactMatch(prediction: string, target: string): number {
  return normalise(prediction) === normalise(target) ? 1 : 0;
}

export function firstLineExactMatch(prediction: string, target: string): number {
  const first = (s: string) => normalise(s).split('\n')[0].trim();
  return first(prediction) === first(target) ? 1 : 0;
}

/** 1 − Levenshtein distance / length of the longer string (1 for two empty strings). */
export function editSimilarity(prediction: string, target: string): number {
  const a = normalise(prediction);
  const b = normalise(target);
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - levenshtein(a, b) / longest;
}

export function levenshtein(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Bits per UTF-8 byte from a negative log-likelihood in nats. */
export function bitsPerByte(nats: number, bytes: number): number {
  return bytes === 0 ? 0 : nats / Math.LN2 / bytes;
}

export interface Estimate {
  mean: number;
  low: number;
  high: number;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Mean with a percentile-bootstrap confidence interval (seeded: the same scores give the same interval). */
export function bootstrapMean(scores: readonly number[], seed = 0, resamples = BOOTSTRAP_RESAMPLES): Estimate {
  if (scores.length === 0) return { mean: 0, low: 0, high: 0 };
  const rng = mulberry32(seed);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < scores.length; i++) sum += scores[Math.floor(rng() * scores.length)];
    means.push(sum / scores.length);
  }
  means.sort((x, y) => x - y);
  const tail = (1 - CONFIDENCE) / 2;
  return {
    mean: mean(scores),
    low: means[Math.floor(tail * (resamples - 1))],
    high: means[Math.ceil((1 - tail) * (resamples - 1))],
  };
}

/** Paired difference a − b over the same tasks, with its bootstrap interval (pairs are resampled together). */
export function pairedDifference(a: readonly number[], b: readonly number[], seed = 0): Estimate {
  if (a.length !== b.length) throw new Error('paired scores need the same tasks on both sides');
  return bootstrapMean(
    a.map((x, i) => x - b[i]),
    seed,
  );
}
