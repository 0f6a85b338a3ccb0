/**
 * What OrtThreadEngine (ortThread.ts) and its worker thread (ortThreadWorker.ts) share: the slots of the control
 * array (an Int32Array over a SharedArrayBuffer) and the messages they exchange.
 */
import type { GenerateResult } from './engine';
import type { EngineOptions } from './ortEngine';

/** Slot set to 1 by the main thread when the running request is cancelled; cleared before each request. */
export const CANCEL = 0;
/** Slot of the filters' answer to the last token message (Verdict). */
export const VERDICT = 1;
export const CONTROL_SLOTS = 2;

/** Values of the VERDICT slot. */
export const Verdict = { Pending: 0, GoOn: 1, Stop: 2 } as const;

/**
 * How long the worker waits for the filters' answer to a token: the main thread answers as soon as its event loop
 * takes the message (well under a millisecond when idle); one blocked this long means the request is given up.
 */
export const VERDICT_WAIT_MS = 10_000;

export type ToWorker =
  | { readonly type: 'generate'; readonly promptIds: readonly number[]; readonly maxNewTokens: number; readonly stopIds: readonly number[]; readonly withFilters: boolean }
  | { readonly type: 'score'; readonly ids: readonly number[] }
  | { readonly type: 'dispose' };

export type ToMain =
  | { readonly type: 'loaded' }
  | { readonly type: 'token'; readonly id: number }
  /** A generate's GenerateResult, or a score's { nats, scored }. */
  | { readonly type: 'done'; readonly result: GenerateResult | { readonly nats: number; readonly scored: number } }
  | { readonly type: 'error'; readonly error: ThreadError }
  | { readonly type: 'disposed' };

/** An error thrown in the worker; `onnxModel`: an OnnxModelError (a bad export), rebuilt as one. */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly onnxModel: boolean;
}

export interface WorkerSetup {
  readonly onnxDir: string;
  readonly opts: EngineOptions;
  readonly control: SharedArrayBuffer;
}
