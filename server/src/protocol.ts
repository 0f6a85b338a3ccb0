/**
 * Every custom LSP request and notification between the extension client (src/) and the sidecar (server/src/).
 * Both sides and the CLI import these names and types from here, so a rename cannot drift between them.
 * Inline completions use the standard `textDocument/inlineCompletion` request (LSP 3.18): vscode-languageclient
 * registers VS Code's InlineCompletionItemProvider for it and forwards cancellation as `$/cancelRequest`, which
 * the sidecar passes down to the generation loop.
 */

/** Stages of a fine-tuning run, in order. */
export type Stage = 'model' | 'harvest' | 'examples' | 'train' | 'export' | 'load' | 'done';

export interface FineTuneParams {
  /** Absolute path of the workspace folder (a git repository, or a plain folder). */
  workspace: string;
  /** HF model directory; omitted = the offline demo model. */
  modelDir?: string;
  maxSteps?: number;
  seed?: number;
}

export interface FineTuneResult {
  adapterDir: string;
  /** Empty when the run was cancelled: a cancelled run is saved but neither exported nor activated. */
  onnxDir: string;
  steps: number;
  finalLoss: number;
  cancelled: boolean;
  filesUsed: number;
  examples: number;
  /** One line: files kept / left out by reason / secrets redacted / holdout. */
  harvestSummary: string;
}

/** Sent by the sidecar while a fine-tune runs; the client shows it in a progress notification. */
export interface ProgressParams {
  stage: Stage;
  message: string;
  /** 0..100 over the whole run, when known. */
  percent?: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
  lr?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
  deviceMemoryBytes?: number;
}

export type HealthState = 'starting' | 'idle' | 'harvesting' | 'training' | 'serving' | 'error';

/** Sent by the sidecar whenever its health changes; feeds the status bar state machine. */
export interface StatusParams {
  state: HealthState;
  message: string;
  /** Adapter being served, if any. */
  adapter?: string;
}

export const Requests = {
  fineTune: 'repotune/fineTune',
  cancelFineTune: 'repotune/cancelFineTune',
  status: 'repotune/getStatus',
} as const;

export const Notifications = {
  progress: 'repotune/progress',
  status: 'repotune/status',
} as const;

/** Initialization options the client passes to the sidecar (from the extension's settings). */
export interface InitOptions {
  pythonPath?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Where models, adapters and exports are stored (the extension's global storage). */
  storageDir: string;
  /** Path of server/trainer inside the installed extension. */
  trainerDir: string;
  maxSteps?: number;
  completionsEnabled?: boolean;
}
