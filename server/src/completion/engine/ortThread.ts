/**
 * OrtEngine in a worker thread (ortThreadWorker.ts, bundled as dist/ortWorker.js): the default completion engine.
 *
 * onnxruntime-node runs a session on the thread that calls it, so in the sidecar's thread every model run held the
 * event loop: a 128-token prefill run of a 0.5B model for about a second, during which keystrokes, cancellations
 * and answers from the completion cache waited. Here the runs happen on their own thread; this thread only keeps
 * the stream filters (which need the tokenizer) and answers one message per generated token.
 *
 * The worker reads cancellation and the filters' verdict from shared memory (ortThreadControl.ts), so a
 * cancelled request still costs at most the model run in progress, as in OrtEngine. A thread that dies fails the
 * request in flight and is started again on the next one, at most MAX_THREAD_RESTARTS times.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompletionEngine, GenerateOptions, GenerateResult } from './engine';
import { OnnxModelError } from './onnxMetadata';
import { OrtEngine, type EngineOptions } from './ortEngine';
import { CANCEL, CONTROL_SLOTS, VERDICT, Verdict, type ThreadError, type ToMain, type ToWorker, type WorkerSetup } from './ortThreadControl';

/** The worker's bundle (esbuild.mjs builds ortThreadWorker.ts there), beside or above this bundle. */
export const ORT_WORKER_FILE = 'ortWorker.js';
/** Loading reads the export and optimises its graph (seconds for a 2 GB fp32 1.5B model); longer means hung. */
const LOAD_TIMEOUT_MS = 120_000;
/**
 * A generation is a prefill of at most the prompt budget plus MAX_NEW_TOKENS decode steps: tens of seconds on the
 * slowest CPU model. One still running after this has hung; its thread is stopped.
 */
const GENERATE_TIMEOUT_MS = 300_000;
/** Scoring runs the model once per token: its limit grows with the tokens (a step takes under 0.2 s on the 0.5B shape). */
const SCORE_TIMEOUT_MS_PER_TOKEN = 2_000;
/** dispose waits this long for the thread to release its session, then stops it. */
const DISPOSE_TIMEOUT_MS = 5_000;
/** Threads started again after one died, per engine: past this, generate fails with the last cause. */
export const MAX_THREAD_RESTARTS = 3;

export function findOrtWorkerScript(): string | undefined {
  return [__dirname, path.dirname(__dirname)].map((dir) => path.join(dir, ORT_WORKER_FILE)).find((f) => fs.existsSync(f));
}

/** The request in flight: a generation's filters run here, token by token. */
interface Running {
  readonly ids: number[];
  readonly onToken: GenerateOptions['onToken'];
  filterError?: unknown;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** An error from the worker, as the class the caller would have seen from OrtEngine. */
function rebuildError(error: ThreadError): Error {
  const err = error.onnxModel ? new OnnxModelError(error.message) : new Error(error.message);
  err.name = error.name;
  return err;
}

export class OrtThreadEngine implements CompletionEngine {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private worker: Worker | undefined;
  /** The request in flight, once it is with the thread. */
  private running: Running | undefined;
  /** Settles when the request in flight (thread start included) has: calls are serialised on it. */
  private inFlight: Promise<void> | undefined;
  private waitingFor: { readonly type: 'loaded' | 'disposed'; resolve(): void; reject(error: Error): void } | undefined;
  private restarts = 0;
  private lastFailure: Error | undefined;
  private disposed = false;

  private constructor(
    private readonly script: string,
    private readonly onnxDir: string,
    private readonly opts: EngineOptions,
  ) {}

  /** The engine on a thread of its own; in this thread when the worker bundle is missing (run from sources). */
  static async load(onnxDir: string, opts: EngineOptions = {}): Promise<OrtThreadEngine | OrtEngine> {
    const script = findOrtWorkerScript();
    if (!script) return OrtEngine.load(onnxDir, opts);
    const engine = new OrtThreadEngine(script, onnxDir, opts);
    await engine.start();
    return engine;
  }

  /** Starts a thread and waits for its model to load; a thread that fails to load is stopped. */
  private async start(): Promise<void> {
    const setup: WorkerSetup = { onnxDir: this.onnxDir, opts: this.opts, control: this.control.buffer as SharedArrayBuffer };
    const worker = new Worker(this.script, { workerData: setup });
    this.worker = worker;
    worker.on('message', (m: ToMain) => this.onMessage(m));
    worker.on('error', (err) => this.onThreadEnd(worker, new Error(`The completion engine thread failed: ${err.message}`)));
    worker.on('exit', (code) => this.onThreadEnd(worker, new Error(`The completion engine thread stopped (exit code ${code}).`)));
    try {
      await this.expect('loaded', LOAD_TIMEOUT_MS, `The completion model ${this.onnxDir} did not load within ${LOAD_TIMEOUT_MS / 1000} s.`);
    } catch (err) {
      this.stop(worker, err as Error);
      throw err;
    }
    worker.unref(); // an idle engine does not keep a process alive; generate holds it while it runs
  }

  /** Waits for the thread to say `type`; stops it after `timeoutMs`. */
  private expect(type: 'loaded' | 'disposed', timeoutMs: number, timeoutMessage: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.worker && this.stop(this.worker, new Error(timeoutMessage)), timeoutMs);
      const settle = (done: () => void) => {
        clearTimeout(timer);
        this.waitingFor = undefined;
        done();
      };
      this.waitingFor = { type, resolve: () => settle(resolve), reject: (e) => settle(() => reject(e)) };
    });
  }

  /** Fails what waits on the thread with `failure`, then stops it. */
  private stop(worker: Worker, failure: Error): void {
    this.onThreadEnd(worker, failure);
    void worker.terminate();
  }

  generate(promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    const message: ToWorker = {
      type: 'generate',
      promptIds: [...promptIds],
      maxNewTokens: opts.maxNewTokens,
      stopIds: [...opts.stopIds],
      withFilters: opts.onToken !== undefined,
    };
    return this.request<GenerateResult>(message, GENERATE_TIMEOUT_MS, opts.signal, opts.onToken);
  }

  /** OrtEngine.negLogLikelihood on the thread: bits per byte of the holdout, a model run per token. */
  negLogLikelihood(ids: readonly number[], signal?: AbortSignal): Promise<{ nats: number; scored: number }> {
    const timeoutMs = Math.max(GENERATE_TIMEOUT_MS, ids.length * SCORE_TIMEOUT_MS_PER_TOKEN);
    return this.request({ type: 'score', ids: [...ids] }, timeoutMs, signal);
  }

  private request<T>(message: ToWorker, timeoutMs: number, signal?: AbortSignal, onToken?: GenerateOptions['onToken']): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('OrtThreadEngine used after dispose()'));
    if (this.inFlight) return Promise.reject(new Error(`OrtThreadEngine: a ${message.type} request came while another runs; calls must be serialised`));
    // Cleared before the caller resumes, so that it may send the next request at once.
    const run = this.run<T>(message, timeoutMs, signal, onToken).finally(() => {
      if (this.inFlight === inFlight) this.inFlight = undefined;
    });
    const inFlight: Promise<void> = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight = inFlight;
    return run;
  }

  private async run<T>(message: ToWorker, timeoutMs: number, signal: AbortSignal | undefined, onToken: GenerateOptions['onToken']): Promise<T> {
    if (!this.worker) {
      if (this.restarts >= MAX_THREAD_RESTARTS) throw new Error(`The completion engine thread stopped ${this.restarts + 1} times; last: ${this.lastFailure?.message}`);
      this.restarts++;
      await this.start();
    }
    const worker = this.worker!;
    const setCancel = () => Atomics.store(this.control, CANCEL, 1);
    // A dispose that came while the thread was (re)starting cancels this request too.
    Atomics.store(this.control, CANCEL, signal?.aborted || this.disposed ? 1 : 0);
    signal?.addEventListener('abort', setCancel);
    worker.ref();
    const watchdog = setTimeout(
      () => this.stop(worker, new Error(`The completion engine did not finish a request within ${timeoutMs / 1000} s; its thread was stopped.`)),
      timeoutMs,
    );
    try {
      return await new Promise<T>((resolve, reject) => {
        this.running = { ids: [], onToken, resolve: resolve as (result: unknown) => void, reject };
        worker.postMessage(message);
      });
    } finally {
      this.running = undefined;
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', setCancel);
      if (this.worker === worker) worker.unref();
    }
  }

  private onMessage(m: ToMain): void {
    const running = this.running;
    switch (m.type) {
      case 'token': {
        if (!running) return;
        let goOn = false;
        try {
          running.ids.push(m.id);
          goOn = running.onToken?.(m.id, running.ids) !== false;
        } catch (err) {
          running.filterError = err;
        }
        Atomics.store(this.control, VERDICT, goOn ? Verdict.GoOn : Verdict.Stop);
        Atomics.notify(this.control, VERDICT);
        return;
      }
      case 'done':
        if (running?.filterError !== undefined) running.reject(running.filterError as Error);
        else running?.resolve(m.result);
        return;
      case 'error':
        if (running) running.reject(rebuildError(m.error));
        else this.waitingFor?.reject(rebuildError(m.error));
        return;
      case 'loaded':
      case 'disposed':
        if (this.waitingFor?.type === m.type) this.waitingFor.resolve();
    }
  }

  /** The thread ended (an error, an exit, a terminate): whatever waited on it fails; the next request starts another. */
  private onThreadEnd(worker: Worker, failure: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.lastFailure = failure;
    this.running?.reject(failure);
    this.waitingFor?.reject(failure);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.inFlight) {
      // It stops at its next check between runs: the thread must not release the model under it.
      Atomics.store(this.control, CANCEL, 1);
      await Promise.race([this.inFlight, new Promise((resolve) => setTimeout(resolve, DISPOSE_TIMEOUT_MS).unref())]);
    }
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ type: 'dispose' } satisfies ToWorker);
    try {
      await this.expect('disposed', DISPOSE_TIMEOUT_MS, 'The completion engine thread did not release its model in time.');
    } catch {
      // Stopped by expect's timeout, or it ended on its own: nothing is left to release either way.
    } finally {
      await worker.terminate();
      this.worker = undefined;
    }
  }
}
