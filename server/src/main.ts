/**
 * The sidecar: an LSP server over stdio. Wiring only — the work lives in pipeline/ (fine-tuning) and completion/
 * (inline completions). Inline completions are the standard `textDocument/inlineCompletion` request (LSP 3.18):
 * vscode-languageclient turns it into VS Code's InlineCompletionItemProvider and forwards cancellation, so a newer
 * keystroke cancels the older request down to the generation loop without any custom protocol.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  ResponseError,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Notifications, Requests, type ActivateRunResult, type ConfirmTrainingResult, type FineTuneParams, type GenerateModelCodeParams, type InitOptions, type ServingQuantization, type StatusParams } from './protocol';
import { TrainerProcess, TrainerError } from './training/trainerProcess';
import { resolvePython } from './training/python';
import { checkTrainerEnvironment } from './environment/checkEnvironment';
import { runFineTune } from './pipeline/fineTune';
import { awaitConfirmation } from './pipeline/trainingConfirmation';
import { readActiveRun, type ActiveRun } from './pipeline/runStore';
import { RunCatalogError, activateRun, deleteRun, listRuns, rollbackRun } from './pipeline/runCatalog';
import { CompletionService } from './completion/service';
import { registerModelRequests } from './modelRequests';
import { engineLoader, parseBackend, resolveBackend } from './completion/engine/backend';
import type { EngineLoader } from './completion/engine/engine';
import { harvest } from './harvest/harvest';
import { buildRetrievalIndex } from './retrieval/repoIndex';
import { modelCodeDefaults, runGenerateRequest } from './generate/request';
import { SpecError } from './generate/spec';
import { NoAdapterError } from './generate/session';
import { sizeThreadPoolForHarvest } from './harvest/pool';

sizeThreadPoolForHarvest();
const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
const documents = new TextDocuments(TextDocument);

let options: InitOptions;
let trainer: TrainerProcess;
let workspaceRoot: string | undefined;
let completions: CompletionService | undefined;
/** Base model of the service above (its tokenizer). */
let servedModelDir: string | undefined;
let status: StatusParams = { state: 'starting', message: 'Starting' };
let fineTuneRunning = false;
let pythonExe = 'python3';
/** repotune.completions.backend and its engine loader, resolved once (on the first serve or fine-tune) per sidecar start. */
let engineBackend: Promise<{ backend: 'onnx' | 'torch'; load: EngineLoader }> | undefined;
/** Between two generate-progress notifications: the preview stays live without one message per token. */
const GENERATE_PROGRESS_INTERVAL_MS = 100;

const log = (level: 'debug' | 'info' | 'warning' | 'error', message: string) => {
  const line = `[${level}] ${message}`;
  if (level === 'error') connection.console.error(line);
  else if (level === 'warning') connection.console.warn(line);
  else if (level === 'info') connection.console.info(line);
  else connection.console.log(line);
};

function setStatus(next: StatusParams): void {
  status = next;
  void connection.sendNotification(Notifications.status, status);
}

connection.onInitialize((params: InitializeParams): InitializeResult => {
  options = (params.initializationOptions ?? {}) as InitOptions;
  const sourceRoot = path.resolve(__dirname, '..');
  options.storageDir ??= path.join(sourceRoot, '.repotune');
  options.trainerDir ??= path.join(sourceRoot, 'server', 'trainer');
  workspaceRoot = params.workspaceFolders?.[0] ? uriToPath(params.workspaceFolders[0].uri) : undefined;
  const python = resolvePython({ configured: options.pythonPath, storageDir: options.storageDir, sourceRoot });
  pythonExe = python;
  trainer = new TrainerProcess({ python, trainerDir: options.trainerDir, log });
  log('info', `RepoTune sidecar: storage ${options.storageDir}, python ${python}`);
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      inlineCompletionProvider: true,
    },
    serverInfo: { name: 'repotune-sidecar', version: '0.1.0' },
  };
});

connection.onInitialized(async () => {
  const active = workspaceRoot ? readActiveRun(options.storageDir, workspaceRoot) : undefined;
  if (active) await serve(active);
  else setStatus({ state: 'idle', message: 'No adapter yet: run "RepoTune: Fine-tune on workspace".' });
});

/** Resolves repotune.completions.backend ("auto": torch on a CUDA machine, else onnx) into the engine loader. */
async function completionEngineLoader(): Promise<{ backend: 'onnx' | 'torch'; load: EngineLoader }> {
  const setting = parseBackend(options.completionsBackend);
  const { backend, reason } = await resolveBackend(setting, { trainer, pythonPath: pythonExe });
  log('info', `Completions served by ${backend === 'torch' ? 'torch (Python serving worker)' : 'onnxruntime (CPU)'}: ${reason}.`);
  return { backend, load: engineLoader({ backend, fallbackToOnnx: setting === 'auto', python: pythonExe, trainerDir: options.trainerDir, log }) };
}

/**
 * "auto" serving quantization applies to onnxruntime on the CPU: the torch engine serves the adapter at full
 * precision, so the gate must score the fp32 export then.
 */
async function servingQuantizationFor(requested: ServingQuantization | undefined): Promise<ServingQuantization | undefined> {
  if ((requested ?? 'auto') !== 'auto') return requested;
  engineBackend ??= completionEngineLoader();
  return (await engineBackend).backend === 'torch' ? 'none' : 'auto';
}

async function serve(run: Pick<ActiveRun, 'modelDir' | 'onnxDir' | 'adapterDir' | 'runId'>): Promise<void> {
  const { modelDir, onnxDir, adapterDir, runId: adapter } = run;
  try {
    engineBackend ??= completionEngineLoader();
    const { load } = await engineBackend;
    // A run of another base model (activated from "Manage adapters") needs that model's tokenizer: a new service.
    if (completions && servedModelDir === modelDir) await completions.swapModel(onnxDir, adapterDir);
    else {
      const previous = completions;
      completions = undefined;
      await previous?.dispose();
      completions = await CompletionService.create({ modelDir, onnxDir, adapterDir, loadEngine: load });
      servedModelDir = modelDir;
    }
    setStatus({ state: 'serving', message: `Serving adapter ${adapter}`, adapter });
    void indexWorkspace();
  } catch (err) {
    log('error', `Could not load the adapted model from ${onnxDir}: ${(err as Error).message}`);
    setStatus({ state: 'error', message: `Could not load the adapted model: ${(err as Error).message}` });
  }
}

/**
 * Builds the repository index for cross-file context in the background (served requests go on without context until
 * it is ready). Every harvested file counts: the holdout restriction is for training and evaluation, not serving.
 */
async function indexWorkspace(): Promise<void> {
  if (!workspaceRoot || !completions) return;
  const started = Date.now();
  try {
    const { files } = await harvest(workspaceRoot, {});
    completions?.setRetrieval(buildRetrievalIndex(files.map((f) => ({ path: f.path, text: f.text }))));
    log('info', `Indexed ${files.length} files for cross-file context in ${Date.now() - started} ms.`);
  } catch (err) {
    log('warning', `Cross-file context is off: indexing the workspace failed (${(err as Error).message}).`);
  }
}

connection.onRequest(Requests.fineTune, async (params: FineTuneParams, token) => {
  if (fineTuneRunning) throw new ResponseError(1, 'A fine-tuning run is already in progress.');
  fineTuneRunning = true;
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  const before = status;
  try {
    setStatus({ state: 'harvesting', message: 'Reading the repository' });
    const outcome = await runFineTune(
      { ...params, maxSteps: params.maxSteps ?? options.maxSteps, quantization: await servingQuantizationFor(params.quantization) },
      {
        trainer,
        storageDir: options.storageDir,
        log,
        onProgress: (p) => {
          void connection.sendNotification(Notifications.progress, p);
          if (p.stage === 'train') setStatus({ state: 'training', message: `Training ${Math.round(p.percent ?? 0)}%` });
        },
        onHarvested: async (summary) => {
          if (!params.confirmBeforeTraining) {
            void connection.sendNotification(Notifications.harvestSummary, summary);
            return true;
          }
          setStatus({ state: 'harvesting', message: 'Harvest done: waiting for "Start training"' });
          const answer = await awaitConfirmation(
            () => connection.sendRequest<ConfirmTrainingResult>(Requests.confirmTraining, summary).then((r) => r?.start === true),
            abort.signal,
          );
          log('info', `Harvest summary answered: ${answer}`);
          return answer === 'start';
        },
      },
      abort.signal,
    );
    if (outcome.run) await serve(outcome.run);
    else setStatus(before.state === 'serving' ? before : { state: 'idle', message: outcome.activationReason });
    const { run: _run, ...result } = outcome;
    return result;
  } catch (err) {
    const e = err as Error;
    log('error', `Fine-tuning failed: ${e.message}`);
    setStatus(before.state === 'serving' ? before : { state: 'error', message: e.message });
    const kind = err instanceof TrainerError ? err.kind : 'internal';
    throw new ResponseError(2, e.message, { kind });
  } finally {
    fineTuneRunning = false;
    sub.dispose();
  }
});

connection.onRequest(Requests.cancelFineTune, async () => {
  if (!fineTuneRunning) return { cancelled: false };
  await trainer.request('cancel').catch(() => undefined);
  return { cancelled: true };
});

connection.onRequest(Requests.status, () => status);

connection.onRequest(Requests.checkEnvironment, () => checkTrainerEnvironment(trainer, pythonExe));

/** Adapter management ("Manage adapters", the dashboard): run-catalogue errors reach the user as they are. */
const RUN_CATALOG_ERROR = 4;

function catalogRequest<T>(body: (workspace: string) => T | Promise<T>): () => Promise<T> {
  return async () => {
    if (!workspaceRoot) throw new ResponseError(RUN_CATALOG_ERROR, 'Open a folder to manage its adapters.');
    try {
      return await body(workspaceRoot);
    } catch (err) {
      if (err instanceof RunCatalogError) throw new ResponseError(RUN_CATALOG_ERROR, err.message);
      throw err;
    }
  };
}

async function serveChosen(run: ActiveRun, verb: string): Promise<ActivateRunResult> {
  await serve(run);
  if (status.state !== 'serving') throw new ResponseError(RUN_CATALOG_ERROR, `${verb} ${run.runId}, but it could not be loaded: ${status.message}`);
  return { runId: run.runId, message: `${verb} ${run.runId}.` };
}

connection.onRequest(Requests.listRuns, catalogRequest((ws) => listRuns(options.storageDir, ws)));

connection.onRequest(Requests.activateRun, (params: { runId: string }) =>
  catalogRequest((ws) => serveChosen(activateRun(options.storageDir, ws, String(params?.runId ?? '')), 'Activated'))(),
);

connection.onRequest(Requests.rollbackRun, catalogRequest((ws) => serveChosen(rollbackRun(options.storageDir, ws), 'Rolled back to')));

connection.onRequest(Requests.deleteRun, (params: { runId: string }) =>
  catalogRequest((ws) => {
    if (fineTuneRunning) throw new RunCatalogError('A fine-tune is running: delete runs after it finishes.');
    deleteRun(options.storageDir, ws, String(params?.runId ?? ''));
    return { deleted: params.runId };
  })(),
);

registerModelRequests(connection, {
  workspaceRoot: () => workspaceRoot,
  storageDir: () => options.storageDir,
  makeWorker: () => new TrainerProcess({ python: pythonExe, trainerDir: options.trainerDir, log }),
  log,
});

connection.onNotification(Notifications.setCompletionsEnabled, (params: { enabled: boolean }) => {
  options.completionsEnabled = params?.enabled !== false;
  log('info', `Inline completions ${options.completionsEnabled ? 'resumed' : 'paused'}.`);
});

connection.onRequest(Requests.modelCodeDefaults, (params: { workspace: string }) => modelCodeDefaults(params.workspace));

connection.onRequest(Requests.generateModelCode, async (params: GenerateModelCodeParams, token) => {
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  let lastSent = 0;
  try {
    return await runGenerateRequest(params, {
      storageDir: options.storageDir,
      python: pythonExe,
      trainerDir: options.trainerDir,
      signal: abort.signal,
      log: (m) => log('info', m),
      onCode: (u) => {
        const now = Date.now();
        if (!u.done && now - lastSent < GENERATE_PROGRESS_INTERVAL_MS) return;
        lastSent = now;
        void connection.sendNotification(Notifications.generateProgress, { requestId: params.requestId, ...u });
      },
    });
  } catch (err) {
    const e = err as Error;
    if (!(err instanceof SpecError || err instanceof NoAdapterError)) log('error', `Generating model code failed: ${e.message}`);
    throw new ResponseError(3, e.message, { kind: err instanceof SpecError ? 'bad_spec' : err instanceof NoAdapterError ? 'no_adapter' : 'internal' });
  } finally {
    sub.dispose();
  }
});

connection.languages.inlineCompletion.on(async (params, token) => {
  if (!completions || options.completionsEnabled === false) return null;
  const doc = documents.get(params.textDocument.uri);
  if (!doc) return null;
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  try {
    const offset = doc.offsetAt(params.position);
    const result = await completions.complete(
      { text: doc.getText(), offset, languageId: doc.languageId, path: workspaceRelative(doc.uri) },
      abort.signal,
    );
    if (!result || token.isCancellationRequested) return null;
    return { items: [{ insertText: result.text, range: { start: params.position, end: params.position } }] };
  } catch (err) {
    // The typing path never surfaces a dialog: log and return nothing.
    log('warning', `completion failed: ${(err as Error).message}`);
    return null;
  } finally {
    sub.dispose();
  }
});

connection.onShutdown(async () => {
  await completions?.dispose();
  await trainer?.dispose();
});

function uriToPath(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}

function workspaceRelative(uri: string): string {
  const p = uriToPath(uri);
  return workspaceRoot && p.startsWith(workspaceRoot) ? path.relative(workspaceRoot, p) : path.basename(p);
}

documents.listen(connection);
connection.listen();
