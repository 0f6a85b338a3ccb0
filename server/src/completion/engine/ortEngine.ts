/**
 * Greedy decoding of a RepoTune ONNX export with onnxruntime-node on the CPU.
 *
 * One `generate` call = prefill (all prompt tokens not already in the KV cache, in one run) + one run per new token.
 * The cache of the last call is kept, so a prompt that shares its start with the previous one (typing at the end
 * of the prefix) prefills only its tail. Calls must not overlap: the cache is one sequence (the service serialises).
 */
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { CompletionEngine, GenerateOptions, GenerateResult, StopReason } from './engine';
import { KvCache } from './kvCache';
import { OnnxModelError, readOnnxModelInfo, type OnnxModelInfo } from './onnxMetadata';

/** More threads than this only add synchronisation cost for the small matrices of one-token decode steps. */
const MAX_INTRA_OP_THREADS = 4;
/**
 * Share of the cores the engine takes: the editor, the language server and (while training) PyTorch need the
 * rest. Measured on 2 cores with the demo model: 1 thread decodes ~290 tok/s, 2 threads ~155 tok/s.
 */
const CORE_SHARE = 0.5;
/**
 * Keys/values of a prompt are reused only when at least this many tokens match: every FIM prompt shares its first
 * special token, and copying the cache for a handful of tokens saves less than it costs.
 */
const MIN_REUSED_TOKENS = 8;

/**
 * The prompt is prefilled in runs of at most this many tokens. onnxruntime-node runs a session on the calling
 * thread and a run cannot be interrupted, so a run holds that thread (the engine's own in the sidecar, ortThread.ts)
 * and a newer keystroke's cancellation for its whole length; between chunks the abort signal is checked and the
 * keys/values done so far stay cached for the next prompt. Measured on the 0.5B-shaped bench model, one thread, in
 * onnxruntime-node: a run takes 2.0 s at 256 tokens (int4), 0.95 s at 128, 0.46 s at 64. Prefill speed,
 * alternating runs of a 2k prompt: 128 is as fast as 256 (fp32 131.8 against 131.0 tok/s, int4 equal within
 * noise), while 64 costs fp32 about 12% (each run reads all 2 GB of fp32 weights once).
 */
export const PREFILL_CHUNK_TOKENS = 128;

/** Scoring restarts the KV cache after this many tokens (a window well inside any model's context). */
export const SCORE_WINDOW_TOKENS = 1024;

export type { StopReason, GenerateOptions, GenerateResult } from './engine';

/**
 * GenerateOptions as OrtEngine reads them: it only reads whether the request was cancelled, so the worker thread
 * (ortThreadWorker.ts) can pass a flag the main thread sets in shared memory.
 */
export type OrtGenerateOptions = Omit<GenerateOptions, 'signal'> & { readonly signal?: Pick<AbortSignal, 'aborted'> };

export interface EngineOptions {
  /** Keep and reuse the KV cache between calls (default true). */
  readonly reuseKvCache?: boolean;
  readonly intraOpNumThreads?: number;
}

/** Session options tuned for latency of batch-1 decoding on a shared developer machine. */
export function sessionOptionsFor(opts: EngineOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // Decoding is a chain of dependent ops: parallel execution of the graph only adds scheduling overhead.
    executionMode: 'sequential',
    interOpNumThreads: 1,
    intraOpNumThreads: opts.intraOpNumThreads ?? Math.max(1, Math.min(MAX_INTRA_OP_THREADS, Math.floor(os.availableParallelism() * CORE_SHARE))),
    // Shapes change every step (past length grows), so memory patterns never repeat; the arena still pays off.
    enableMemPattern: false,
    enableCpuMemArena: true,
    logSeverityLevel: 3,
  };
}

function int64(values: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [1, values.length]);
}

function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

export class OrtEngine implements CompletionEngine {
  private readonly cache: KvCache;
  private readonly logits: Float32Array;
  private readonly logitsOutput: ort.Tensor;
  private busy = false;
  private disposed = false;

  private constructor(
    readonly info: OnnxModelInfo,
    private readonly session: ort.InferenceSession,
    private readonly reuseKvCache: boolean,
  ) {
    this.cache = new KvCache(info);
    this.logits = new Float32Array(info.vocabSize);
    this.logitsOutput = new ort.Tensor('float32', this.logits, [1, info.vocabSize]);
  }

  static async load(onnxDir: string, opts: EngineOptions = {}): Promise<OrtEngine> {
    const info = readOnnxModelInfo(onnxDir);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(info.modelPath, sessionOptionsFor(opts));
    } catch (err) {
      throw new OnnxModelError(`Cannot load ${info.modelPath}: ${(err as Error).message.split('\n')[0]}. The file may be corrupt; run the export step again.`);
    }
    const missing = ['input_ids', 'position_ids', 'past_key_values.0.key'].filter((n) => !session.inputNames.includes(n));
    if (missing.length > 0 || !session.outputNames.includes('logits')) {
      await session.release();
      throw new OnnxModelError(`${info.modelPath} does not follow the RepoTune export contract (missing ${[...missing, 'logits'].join(', ')}).`);
    }
    return new OrtEngine(info, session, opts.reuseKvCache ?? true);
  }

  /**
   * Feeds `ids` after the cached positions; returns the logits of the last one. Outputs are preallocated (the KV
   * cache's buffers, one logits array), so a step allocates nothing: the returned array is overwritten by the next.
   */
  private async step(ids: readonly number[]): Promise<Float32Array> {
    const start = this.cache.length;
    const { feeds, fetches } = this.cache.bindings(ids.length);
    feeds.input_ids = int64(ids);
    feeds.position_ids = int64(ids.map((_, i) => start + i));
    fetches.logits = this.logitsOutput;
    await this.session.run(feeds, fetches);
    this.cache.commit(ids);
    return this.logits;
  }

  async generate(promptIds: readonly number[], opts: OrtGenerateOptions): Promise<GenerateResult> {
    if (this.disposed) throw new Error('OrtEngine used after dispose()');
    if (this.busy) throw new Error('OrtEngine.generate called while another generation runs; calls must be serialised');
    if (promptIds.length === 0) throw new Error('generate needs at least one prompt token');
    const stopIds = opts.stopIds instanceof Set ? opts.stopIds : new Set(opts.stopIds as readonly number[]);
    const ids: number[] = [];
    if (opts.maxNewTokens <= 0) return { ids, stoppedBy: 'length', reusedTokens: 0, prefilledTokens: 0, prefillMs: 0, decodeMs: 0 };
    const t0 = performance.now();
    let prefillMs = 0;
    this.busy = true;
    try {
      if (opts.signal?.aborted) return { ids, stoppedBy: 'cancelled', reusedTokens: 0, prefilledTokens: 0, prefillMs: 0, decodeMs: 0 };
      // At least one prompt token must be fed to get the next-token logits, even for a prompt fully cached.
      let reused = this.reuseKvCache ? Math.min(this.cache.commonPrefixLength(promptIds), promptIds.length - 1) : 0;
      if (reused < MIN_REUSED_TOKENS) reused = 0;
      this.cache.truncate(reused);
      this.cache.reserve(promptIds.length + opts.maxNewTokens); // one allocation for the whole request
      const tail = promptIds.slice(reused);
      let prefilled = 0;
      const result = (stoppedBy: StopReason): GenerateResult => ({
        ids, stoppedBy, reusedTokens: reused, prefilledTokens: prefilled, prefillMs, decodeMs: performance.now() - t0 - prefillMs,
      });
      let logits!: Float32Array;
      while (prefilled < tail.length) {
        if (prefilled > 0 && opts.signal?.aborted) {
          prefillMs = performance.now() - t0;
          return result('cancelled');
        }
        const chunk = tail.slice(prefilled, prefilled + PREFILL_CHUNK_TOKENS);
        logits = await this.step(chunk);
        prefilled += chunk.length;
      }
      prefillMs = performance.now() - t0;
      for (;;) {
        const next = argmax(logits);
        if (stopIds.has(next)) return result('stop');
        ids.push(next);
        if (opts.onToken?.(next, ids) === false) return result('filter');
        if (ids.length >= opts.maxNewTokens) return result('length');
        if (opts.signal?.aborted) return result('cancelled');
        logits = await this.step([next]);
      }
    } catch (err) {
      this.cache.clear(); // a failed run leaves the cache in an unknown state
      throw err;
    } finally {
      this.busy = false;
      if (!this.reuseKvCache) this.cache.clear();
    }
  }

  /**
   * Negative log-likelihood (nats) of `ids[1..]`, each token given those before it: what bits-per-byte is made of.
   * The graph returns last-position logits only, so tokens are fed one at a time (with the KV cache); the cache is
   * restarted every SCORE_WINDOW_TOKENS, so text longer than the model's context is scored in windows.
   */
  async negLogLikelihood(ids: readonly number[], signal?: Pick<AbortSignal, 'aborted'>): Promise<{ nats: number; scored: number }> {
    if (this.disposed) throw new Error('OrtEngine used after dispose()');
    if (this.busy) throw new Error('OrtEngine.negLogLikelihood called while another generation runs');
    this.busy = true;
    let nats = 0;
    let scored = 0;
    try {
      this.cache.clear();
      let logits = await this.step([ids[0]]);
      for (let i = 1; i < ids.length; i++) {
        if (signal?.aborted) break;
        nats -= logSoftmaxAt(logits, ids[i]);
        scored++;
        if (this.cache.length >= SCORE_WINDOW_TOKENS) this.cache.clear();
        logits = await this.step([ids[i]]);
      }
      return { nats, scored };
    } finally {
      this.cache.clear();
      this.busy = false;
    }
  }

  /** Forgets the KV cache (e.g. to measure a cold prefill). */
  resetCache(): void {
    this.cache.clear();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cache.release();
    await this.session.release();
  }
}

/** log softmax(logits)[index], computed stably. */
function logSoftmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return logits[index] - max - Math.log(sum);
}
