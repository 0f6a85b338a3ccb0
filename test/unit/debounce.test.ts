/** The adaptive debounce policy (server/src/completion/debounce.ts), table-driven on its pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  abortableDelay,
  debounceDelayMs,
  MAX_DEBOUNCE_MS,
  observeKeystroke,
  type TypingRhythm,
} from '../../server/src/completion/debounce';

interface Case {
  readonly name: string;
  /** Arrival times (ms) and whether the previous request was still unanswered at that moment. */
  readonly keys: readonly (readonly [number, boolean])[];
  /** The wait for the last key's request. */
  readonly delay: number;
}

const steady = (interval: number, n: number) => Array.from({ length: n }, (_, i) => [i * interval, i > 0] as const);

const CASES: readonly Case[] = [
  { name: 'first request: no wait', keys: [[0, false]], delay: 0 },
  { name: 'previous request answered: no wait (CLI, evaluation)', keys: [[0, false], [40, false], [80, false]], delay: 0 },
  { name: 'steady 40 ms typing: 1.25 intervals', keys: steady(40, 10), delay: 50 },
  { name: 'steady 80 ms typing', keys: steady(80, 10), delay: 100 },
  { name: 'very fast 10 ms repeats', keys: steady(10, 10), delay: 13 },
  { name: 'slow typing (300 ms): no wait', keys: steady(300, 10), delay: 0 },
  { name: 'moderate typing (180 ms): capped', keys: steady(180, 10), delay: MAX_DEBOUNCE_MS },
  { name: 'a pause resets the rhythm', keys: [...steady(40, 5), [1400, true]], delay: 0 },
  { name: 'after a pause, typing again: the new interval', keys: [...steady(40, 5), [1400, true], [1460, true]], delay: 75 },
  // One 200 ms hesitation inside 40 ms typing moves the smoothed interval by 0.3 x 160 = 48 ms.
  { name: 'a hesitation is smoothed, not adopted', keys: [...steady(40, 6), [400, true]], delay: 110 },
  { name: 'an answered request in between restarts the measurement', keys: [...steady(40, 6), [240, false], [280, true]], delay: 50 },
];

for (const c of CASES) {
  test(`debounce: ${c.name}`, () => {
    let rhythm: TypingRhythm = {};
    for (const [at, pending] of c.keys) rhythm = observeKeystroke(rhythm, at, pending);
    assert.equal(debounceDelayMs(rhythm), c.delay);
  });
}

test('abortableDelay: runs out, or resolves false at once on abort', async () => {
  assert.equal(await abortableDelay(5, new AbortController().signal), true);
  assert.equal(await abortableDelay(0, new AbortController().signal), true);
  assert.equal(await abortableDelay(50, AbortSignal.abort()), false);
  const controller = new AbortController();
  const t0 = performance.now();
  const waiting = abortableDelay(10_000, controller.signal);
  setTimeout(() => controller.abort(), 5);
  assert.equal(await waiting, false);
  assert.ok(performance.now() - t0 < 1000, 'the abort ended the wait');
});
