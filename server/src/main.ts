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
import { Notifications, Requests, type FineTuneParams, type GenerateModelCodeParams, type InitOptions, type StatusParams } from './protocol';
import { TrainerProcess, TrainerError } from './training/trainerProcess';
import { resolvePython } from './training/python';
import { runFineTune } from './pipeline/fineTune';
import { readActiveRun } from './pipeline/runStore';
import { CompletionService } from './completion/service';
import { harvest } from './harvest/harvest';
import { buildRetrievalIndex } from './retrieval/repoIndex';
import { modelCodeDefaults, runGenerateRequest } from './generate/request';
import { SpecError } from './generate/spec';
import { NoAdapterError } from './generate/session';

const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
const documents = new TextDocuments(TextDocument);

let options: InitOptions;
let trainer: TrainerProcess;
let workspaceRoot: string | undefined;
let completions: CompletionService | undefined;
let status: StatusParams = { state: 'starting', message: 'Starting' };
let fineTuneRunning = false;
let pythonExe = 'python3';
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
  if (active) await serve(active.modelDir, active.onnxDir, active.runId);
  else setStatus({ state: 'idle', message: 'No adapter yet: run "RepoTune: Fine-tune on workspace".' });
});

async function serve(modelDir: string, onnxDir: string, adapter: string): Promise<void> {
  try {
    if (completions) await completions.swapModel(onnxDir);
    else completions = await CompletionService.create({ modelDir, onnxDir });
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
      { ...params, maxSteps: params.maxSteps ?? options.maxSteps },
      {
        trainer,
        storageDir: options.storageDir,
        log,
        onProgress: (p) => {
          void connection.sendNotification(Notifications.progress, p);
          if (p.stage === 'train') setStatus({ state: 'training', message: `Training ${Math.round(p.percent ?? 0)}%` });
        },
      },
      abort.signal,
    );
    if (outcome.run) await serve(outcome.run.modelDir, outcome.run.onnxDir, outcome.run.runId);
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
