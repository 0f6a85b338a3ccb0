/**
 * Every custom LSP request and notification between the extension client (src/) and the sidecar (server/src/).
 * Both sides and the CLI import these names and types from here, so a rename cannot drift between them.
 * Inline completions use the standard `textDocument/inlineCompletion` request (LSP 3.18): vscode-languageclient
 * registers VS Code's InlineCompletionItemProvider for it and forwards cancellation as `$/cancelRequest`, which
 * the sidecar passes down to the generation loop.
 */

/** Stages of a fine-tuning run, in order. */
export type Stage = 'model' | 'harvest' | 'examples' | 'train' | 'export' | 'evaluate' | 'load' | 'done';

export interface FineTuneParams {
  /** Absolute path of the workspace folder (a git repository, or a plain folder). */
  workspace: string;
  /** HF model directory; omitted = the offline demo model. */
  modelDir?: string;
  /** Optimizer steps; 0 or omitted = automatic (pipeline/fineTune.ts autoTrainingSteps; 200 for the demo model). */
  maxSteps?: number;
  /** Peak learning rate of the LoRA; omitted = the demo model's rate for the demo model, else the trainer's default. */
  learningRate?: number;
  seed?: number;
  /** Activate only an adapter that beats the base model on the holdout (default true). */
  gate?: boolean;
  /**
   * Ask the client (`repotune/confirmTraining`) whether to train once the harvest summary is known (default false:
   * the summary is only announced, `repotune/harvestSummary`, and training starts at once).
   */
  confirmBeforeTraining?: boolean;
  /**
   * Weights of the ONNX export that is evaluated and served (setting repotune.serving.quantization; default
   * 'auto': int4 for models of 100M parameters or more, fp32 below; pipeline/servingQuantization.ts).
   */
  quantization?: ServingQuantization;
}

/** Values of repotune.serving.quantization and `repotune fine-tune --quantize`. */
export const SERVING_QUANTIZATIONS = ['auto', 'none', 'int8', 'int4'] as const;
export type ServingQuantization = (typeof SERVING_QUANTIZATIONS)[number];

export function isServingQuantization(value: unknown): value is ServingQuantization {
  return (SERVING_QUANTIZATIONS as readonly unknown[]).includes(value);
}

/**
 * What the harvest kept and left out, sent as soon as it is done (before any training). Counts only: secrets are
 * counted per rule, never their values.
 */
export interface HarvestSummaryParams {
  workspace: string;
  /** The run's manifest.json (every file in and out, with the reason). */
  manifestPath: string;
  filesIn: number;
  filesOut: number;
  filesExcluded: number;
  byReason: Record<string, number>;
  bytesIn: number;
  bytes: number;
  languages: Record<string, number>;
  secretsRedacted: Record<string, number>;
  trainFiles: number;
  holdoutFiles: number;
  /** The same, as the CLI prints it (several lines). */
  text: string;
}

/** The client's answer to `repotune/confirmTraining`. */
export interface ConfirmTrainingResult {
  start: boolean;
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
  /** Whether the new adapter now serves completions, and why (the gate's verdict). */
  activated: boolean;
  activationReason: string;
  /** The evaluation table (CLI text) and where its JSON was written, when the holdout could be evaluated. */
  evaluation?: { table: string; reportPath: string };
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
  /** Loss on the trainer's held-out shard, when it evaluates during training (the dashboard plots it). */
  evalLoss?: number;
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

/** "Generate model code": the spec's fields as typed (the sidecar parses them: server/src/generate/spec.ts). */
export interface GenerateModelCodeParams {
  workspace: string;
  /** Chosen by the client; progress notifications carry it so the right preview receives them. */
  requestId: string;
  fields: { task?: string; inputs?: string; outputs?: string; loss?: string; framework?: string };
  /** Only true after the user's explicit confirmation in a trusted workspace (server/src/generate/guard.ts). */
  runSmokeTest: boolean;
  /** Workspace-relative path the code is meant for, if any. */
  targetPath?: string;
}

export interface GenerateModelCodeResult {
  code: string;
  className: string;
  fileName: string;
  ok: boolean;
  cancelled: boolean;
  /** One line per attempt and a verdict, for people. */
  summary: string;
  attempts: { attempt: number; parseError?: string; smokePassed?: boolean; smokeOutput?: string; error?: string }[];
  smokeTest?: string;
}

/** Sent while a generation streams: the whole code of the attempt under way (the preview replaces its text). */
export interface GenerateProgressParams {
  requestId: string;
  attempt: number;
  code: string;
  done: boolean;
}

/** The form's defaults, read from the repository. */
export interface ModelCodeDefaults {
  framework?: 'torch' | 'tensorflow' | 'jax';
  /** Model classes found in the repository (used as style examples). */
  modelClasses: string[];
}

/** One fine-tuning run of the workspace, as "Manage adapters" and the dashboard list it. */
export interface RunSummary {
  runId: string;
  /** ISO time the run started (from its id). */
  createdAt: string;
  /** From the adapter's metadata; absent when training never wrote an adapter. */
  steps?: number;
  finalLoss?: number;
  /** Base model directory the adapter was trained on. */
  modelDir?: string;
  /** The evaluation's gate verdict and its reason, when the run was evaluated (evaluation.json). */
  evaluation?: { gatePassed: boolean; reason: string; reportPath: string };
  active: boolean;
  /** Whether it can be activated (it has an ONNX export); `inactiveReason` says why a run is not active. */
  activatable: boolean;
  inactiveReason?: string;
}

export interface ListRunsResult {
  runs: RunSummary[];
  /** The run a rollback would return to, if any. */
  rollbackTo?: string;
}

/** Answer of activate/rollback: the run now serving. */
export interface ActivateRunResult {
  runId: string;
  message: string;
}

/** "Choose model": download a hub model into the HF cache (resumable, verified). */
export interface DownloadModelParams {
  repoId: string;
  revision?: string;
}

export interface DownloadModelResult {
  /** The snapshot directory: a ready model directory for repotune.modelDirectory. */
  modelDir: string;
}

/** Sent while a model downloads (per file, bytes of that file). */
export interface DownloadProgressParams {
  repoId: string;
  file: string;
  bytes: number;
  totalBytes: number;
}

/**
 * Formats "Export adapter" writes: the PEFT folder as trained, base+adapter merged (HF folder), ONNX, or one GGUF
 * file for llama.cpp.
 */
export type ExportFormat = 'peft' | 'merged' | 'onnx' | 'gguf';
/** Weight quantization of an ONNX export (null = fp32) or a GGUF export (null = f16, int8 = Q8_0, int4 = Q4_0). */
export type ExportQuantization = 'int8' | 'int4' | null;

export interface ExportAdapterParams {
  /** A run of the workspace (listRuns); omitted = the active run. */
  runId?: string;
  format: ExportFormat;
  quantize?: ExportQuantization;
  /** Absolute folder to write; it is created, or must be empty unless `overwrite`. */
  targetDir: string;
  /** Replace what the target folder holds (the client asks first). */
  overwrite?: boolean;
}

export interface ExportAdapterResult {
  runId: string;
  targetDir: string;
  files: string[];
  bytes: number;
  seconds: number;
}

/** Sent while an export runs. */
export interface ExportProgressParams {
  message: string;
}

/** "Check environment": what the trainer's Python sees (the worker's `env` request, docs/architecture.md). */
export interface TrainerEnvironment {
  /** The interpreter the sidecar starts the worker with (a setting, a venv, or "python3" from PATH). */
  pythonPath: string;
  /** Absent when that Python could not be started at all; `error` says why. */
  python?: {
    version: string;
    executable: string;
    torch: string | null;
    cuda: boolean;
    deviceName: string | null;
    deviceMemTotal: number | null;
    deviceMemFree: number | null;
    /** Installed version of each training package, null where missing. */
    packages: Record<string, string | null>;
    problems: string[];
  };
  error?: string;
}

export const Requests = {
  fineTune: 'repotune/fineTune',
  generateModelCode: 'repotune/generateModelCode',
  modelCodeDefaults: 'repotune/modelCodeDefaults',
  cancelFineTune: 'repotune/cancelFineTune',
  status: 'repotune/getStatus',
  listRuns: 'repotune/listRuns',
  activateRun: 'repotune/activateRun',
  rollbackRun: 'repotune/rollbackRun',
  deleteRun: 'repotune/deleteRun',
  downloadModel: 'repotune/downloadModel',
  /** "Check environment": the worker's `env` answer and the Python the sidecar uses (TrainerEnvironment). */
  checkEnvironment: 'repotune/checkEnvironment',
  /** Server → client: the harvest summary; the answer says whether to train (FineTuneParams.confirmBeforeTraining). */
  confirmTraining: 'repotune/confirmTraining',
  exportAdapter: 'repotune/exportAdapter',
} as const;

export const Notifications = {
  progress: 'repotune/progress',
  generateProgress: 'repotune/generateProgress',
  status: 'repotune/status',
  downloadProgress: 'repotune/downloadProgress',
  /** Server → client: the harvest summary of a run that does not ask before training. */
  harvestSummary: 'repotune/harvestSummary',
  exportProgress: 'repotune/exportProgress',
  /** Client → sidecar: repotune.completions.enabled changed (pause/resume without a restart). */
  setCompletionsEnabled: 'repotune/setCompletionsEnabled',
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
  /** repotune.completions.backend: "auto" | "onnx" | "torch" (completion/engine/backend.ts); absent = "auto". */
  completionsBackend?: string;
}
