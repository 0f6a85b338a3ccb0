/**
 * What the completion service needs from a model backend: greedy generation over one cached sequence, and
 * release. Two backends implement it: OrtEngine (onnxruntime-node, CPU, in the sidecar's process) and TorchEngine
 * (the Python serving worker, torch on CUDA). Both keep the KV cache of the last sequence and prefill only what a new
 * prompt does not share with it; calls must not overlap (the service serialises them).
 */

/** Why a generation ended. 'filter' is reported when onToken asked to stop. */
export type StopReason = 'stop' | 'length' | 'cancelled' | 'filter';

export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly stopIds: ReadonlySet<number> | readonly number[];
  /** Checked before the prefill and between tokens: a cancelled request costs at most one more model run. */
  readonly signal?: AbortSignal;
  /** Called with each new token (not stop tokens) and all tokens so far; return false to stop ('filter'). */
  readonly onToken?: (id: number, ids: readonly number[]) => boolean | void;
}

export interface GenerateResult {
  readonly ids: number[];
  readonly stoppedBy: StopReason;
  /** Prompt tokens whose keys/values came from the previous call instead of a prefill. */
  readonly reusedTokens: number;
  readonly prefilledTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
}

export interface CompletionEngine {
  generate(promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult>;
  dispose(): Promise<void>;
}

/** The model a service serves: the ONNX export for OrtEngine, base + adapter for TorchEngine (the same weights). */
export interface ServedModel {
  readonly modelDir: string;
  readonly onnxDir: string;
  /** PEFT adapter merged by TorchEngine; absent = the base model. */
  readonly adapterDir?: string;
}

export type EngineLoader = (model: ServedModel) => Promise<CompletionEngine>;
