/**
 * Debounce that adapts to typing speed. A request is worth starting at once unless the next keystroke is likely to
 * supersede it before it finishes: then the engine would only burn a prefill and some decode steps on a
 * completion nobody sees. So the service waits about one typing interval (measured, smoothed) before it starts
 * the model, and a keystroke inside that wait cancels the request with no model work done.
 *
 * The wait applies only while requests arrive faster than they are answered: a client that waits for each answer
 * (the CLI, the evaluation, a slow typist) never gets a delay. Pure functions, so the policy is table-tested.
 */

/** Smoothing of the typing interval (weight of the newest one): follows a change of pace within a few keys. */
export const TYPING_INTERVAL_SMOOTHING = 0.3;
/** A gap longer than this is a pause, not typing: the rhythm starts over. */
export const TYPING_PAUSE_MS = 1000;
/** Typing slower than this (per key) leaves time to answer each keystroke: no wait. */
export const SLOW_TYPING_INTERVAL_MS = 250;
/** Wait = this × the smoothed interval: a little more than one interval, so the next key usually lands inside it. */
export const DEBOUNCE_INTERVAL_FACTOR = 1.25;
/** The longest wait, whatever the rhythm: ghost text must still feel immediate once typing stops. */
export const MAX_DEBOUNCE_MS = 150;

export interface TypingRhythm {
  /** When the last request arrived (ms, any monotonic clock); undefined before the first. */
  readonly lastAt?: number;
  /** Smoothed interval between requests that superseded a pending one; undefined = not typing fast. */
  readonly intervalMs?: number;
}

/**
 * The rhythm after a request arriving at `now`. `previousPending`: the previous request had not been answered yet
 * (this one supersedes it). Only such intervals count as typing faster than answers come.
 */
export function observeKeystroke(rhythm: TypingRhythm, now: number, previousPending: boolean): TypingRhythm {
  const gap = rhythm.lastAt === undefined ? Infinity : now - rhythm.lastAt;
  if (!previousPending || gap > TYPING_PAUSE_MS || gap < 0) return { lastAt: now };
  const intervalMs = rhythm.intervalMs === undefined ? gap : rhythm.intervalMs + TYPING_INTERVAL_SMOOTHING * (gap - rhythm.intervalMs);
  return { lastAt: now, intervalMs };
}

/** How long to wait before starting the model for the request that produced `rhythm`. */
export function debounceDelayMs(rhythm: TypingRhythm): number {
  const interval = rhythm.intervalMs;
  if (interval === undefined || interval >= SLOW_TYPING_INTERVAL_MS) return 0;
  return Math.min(MAX_DEBOUNCE_MS, Math.round(interval * DEBOUNCE_INTERVAL_FACTOR));
}

/** Resolves after `ms`, or at once (false) when `signal` aborts first; true when the wait ran out. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
