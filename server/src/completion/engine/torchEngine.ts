/**
 * Completion engine backed by the Python serving worker (server/trainer/repotune_trainer/serve_worker.py): torch with
 * the adapter merged, bf16 on CUDA. The GPU path: onnxruntime-node's CUDA provider is not in its npm package, so the
 * sidecar cannot run the ONNX export on a GPU itself (docs/architecture.md, "Serving backends").
 *
 * The worker is a process of its own (never the trainer's: a completion must not wait behind training), supervised
 * by the trainer's supervisor (training/trainerProcess.ts: per-request silence timeouts, process-group kill, capped
 * restarts). New tokens arrive as `token` notifications while `generate` runs, so the stream filters stop a run
 * early exactly as with OrtEngine: the engine then sends `cancel` with the run's key and waits for the worker to
 * answer (within one token), so the next call finds the worker idle and its KV cache consistent.
 */
import { TrainerError, TrainerProcess, type TrainerOptions } from '../../training/trainerProcess';
import type { CompletionEngine, GenerateOptions, GenerateResult, StopReason } from './engine';

export const SERVE_MODULE = 'repotune_trainer.serve_worker';
/** Starting Python, importing torch and loading (and merging) a 1.5B model onto the GPU. */
export const TORCH_LOAD_TIMEOUT_MS = 3 * 60_000;
/**
 * Silence limit of one generation: every streamed token re-arms it, so this bounds the prefill of a full prompt
 * (2k tokens: well under a second on a GPU, seconds for a large model on a CPU) plus one decode step.
 */
export const TORCH_GENERATE_TIMEOUT_MS = 30_000;
/** `cancel` is answered by the worker's reader thread at once, even mid-generation. */
export const TORCH_CANCEL_TIMEOUT_MS = 5_000;

export type TorchDevice = 'auto' | 'cuda' | 'cpu';

export interface TorchEngineOptions extends Pick<TrainerOptions, 'python' | 'trainerDir' | 'log'> {
  readonly modelDir: string;
  readonly adapterDir?: string;
  readonly device?: TorchDevice;
  /** torch threads on the CPU; default: the worker's share of the cores. */
  readonly numThreads?: number;
  /**
   * serve_torch.py's static-cache mode (the decode step replayed as a CUDA graph on CUDA). Default 'auto': on CUDA
   * only, where an H200 measured it 5x faster per keystroke than eager decoding (bench/serve_gpu.py).
   */
  readonly staticCache?: boolean | 'auto';
}

/** What `load` answered: where the model runs. */
export interface TorchModelInfo {
  readonly model_dir: string;
  readonly adapter_dir: string | null;
  readonly device: string;
  readonly dtype: string;
  readonly static_cache: boolean;
  /** Why 'auto' fell back to eager decoding (the decode step did not compile on this machine). */
  readonly static_cache_error?: string;
}

interface WorkerGenerateResult {
  ids: number[];
  stopped_by: 'stop' | 'length' | 'cancelled';
  reused_tokens: number;
  prefilled_tokens: number;
  prefill_ms: number;
  decode_ms: number;
}

export class TorchEngine implements CompletionEngine {
  private nextKey = 1;
  private busy = false;
  private disposed = false;
  /** Tokens the worker generated in the last run (more than the caller saw when a cancel or filter stopped it). */
  lastWorkerTokens = 0;

  /** Set when the worker died or stopped answering: its restart (trainerProcess.ts, capped) must load again. */
  private reloadNeeded = false;

  private constructor(
    private readonly worker: TrainerProcess,
    private readonly loadParams: object,
    readonly info: TorchModelInfo,
  ) {}

  /** Starts a serving worker and loads the model; a failed load (no CUDA, corrupt weights, OOM) stops the worker. */
  static async load(opts: TorchEngineOptions): Promise<TorchEngine> {
    const worker = new TrainerProcess({ python: opts.python, trainerDir: opts.trainerDir, log: opts.log, module: SERVE_MODULE, label: 'serve' });
    const params = {
      model_dir: opts.modelDir,
      adapter_dir: opts.adapterDir ?? null,
      device: opts.device ?? 'auto',
      num_threads: opts.numThreads,
      static_cache: opts.staticCache ?? 'auto',
    };
    try {
      const info = await worker.request<TorchModelInfo>('load', params, TORCH_LOAD_TIMEOUT_MS);
      return new TorchEngine(worker, params, info);
    } catch (err) {
      await worker.dispose();
      throw err;
    }
  }

  async generate(promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    if (this.disposed) throw new Error('TorchEngine used after dispose()');
    if (this.busy) throw new Error('TorchEngine.generate called while another generation runs; calls must be serialised');
    if (promptIds.length === 0) throw new Error('generate needs at least one prompt token');
    const idle = (stoppedBy: StopReason): GenerateResult => ({ ids: [], stoppedBy, reusedTokens: 0, prefilledTokens: 0, prefillMs: 0, decodeMs: 0 });
    if (opts.maxNewTokens <= 0) return idle('length');
    if (opts.signal?.aborted) return idle('cancelled');
    const key = this.nextKey++;
    const streamed: number[] = [];
    let stoppedHere: 'filter' | 'cancelled' | undefined;
    let cancelSent = false;
    const cancel = (reason: 'filter' | 'cancelled') => {
      stoppedHere ??= reason;
      if (cancelSent) return;
      cancelSent = true;
      // A cancel that arrives after the run ended is harmless (the worker forgets unknown keys).
      this.worker.request('cancel', { key }, TORCH_CANCEL_TIMEOUT_MS).catch(() => undefined);
    };
    const unsubscribe = this.worker.on('token', (params: { key: number; token: number }) => {
      if (params?.key !== key || stoppedHere !== undefined) return;
      streamed.push(params.token);
      if (opts.onToken?.(params.token, streamed) === false) cancel('filter');
    });
    const onAbort = () => cancel('cancelled');
    opts.signal?.addEventListener('abort', onAbort);
    this.busy = true;
    try {
      // A worker that exited (crash, kill) is started again by the next request, without a model.
      if (this.reloadNeeded || !this.worker.running) {
        await this.worker.request('load', this.loadParams, TORCH_LOAD_TIMEOUT_MS);
        this.reloadNeeded = false;
      }
      const stopIds = [...(opts.stopIds as Iterable<number>)];
      const res = await this.worker.request<WorkerGenerateResult>(
        'generate',
        { key, ids: promptIds, max_new_tokens: opts.maxNewTokens, stop_ids: stopIds },
        TORCH_GENERATE_TIMEOUT_MS,
      );
      this.lastWorkerTokens = res.ids.length;
      return {
        // After a stop asked for here, the tokens the caller saw; else the worker's (the same, streamed).
        ids: stoppedHere === undefined ? res.ids : streamed,
        stoppedBy: stoppedHere ?? res.stopped_by,
        reusedTokens: res.reused_tokens,
        prefilledTokens: res.prefilled_tokens,
        prefillMs: res.prefill_ms,
        decodeMs: res.decode_ms,
      };
    } catch (err) {
      if (err instanceof TrainerError && (err.kind === 'crashed' || err.kind === 'timeout')) this.reloadNeeded = true;
      throw err;
    } finally {
      this.busy = false;
      unsubscribe();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  get workerPid(): number | undefined {
    return this.worker.pid;
  }

  /** Stops the worker (its process group): the model's memory, GPU included, goes with it. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.worker.dispose();
  }
}
