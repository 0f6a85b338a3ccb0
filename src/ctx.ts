/**
 * Ctx owns the LanguageClient of the sidecar (dist/server.js) and every disposable of the extension.
 * The client may be absent (not started, failed, stopped): callers go through requireClient(), which turns that
 * into one clear message instead of an exception from deep inside vscode-languageclient.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  Trace,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { withHugePageMalloc } from '../server/src/completion/engine/hugePages';
import { Notifications, type InitOptions, type ProgressParams, type StatusParams } from '../server/src/protocol';
import { readConfig } from './config';
import { Log, describeError } from './log';
import { StatusBar } from './statusBar';
import { EMPTY_TRAINING, applyTrainingProgress, type TrainingSnapshot } from './dashboard/trainingHistory';
import { AcceptanceRecorder } from './acceptance';

const CLIENT_ID = 'repotune';
const CLIENT_NAME = 'RepoTune';
const SERVER_BUNDLE = 'dist/server.js';
const TRAINER_DIR = 'server/trainer';
/** A sidecar that has not answered `initialize` by then is treated as failed (it loads no model at start). */
const SERVER_START_TIMEOUT_MS = 30_000;
/** How long `shutdown`/`exit` may take before the client kills the process. */
const SERVER_STOP_TIMEOUT_MS = 5_000;
/** A sidecar that crashed while running is restarted at most this often within the window, then left stopped. */
const MAX_CRASH_RESTARTS = 3;
const CRASH_RESTART_WINDOW_MS = 3 * 60_000;
/** Errors on the connection tolerated before it is shut down (vscode-languageclient's own default). */
const MAX_CONNECTION_ERRORS = 3;

export const SERVER_NOT_RUNNING = 'RepoTune server is not running. Run "RepoTune: Restart server", or "RepoTune: Show logs" for details.';

/** JSON-RPC code vscode-jsonrpc uses when the connection closed under a pending request (the process exited). */
const CONNECTION_DISPOSED_CODE = -32097;

function describeStartError(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === CONNECTION_DISPOSED_CODE) return 'the server process exited during start-up. "RepoTune: Show logs" has its output.';
  return describeError(err);
}

export class ServerNotRunningError extends Error {
  constructor() {
    super(SERVER_NOT_RUNNING);
  }
}

/** Logs what vscode-languageclient reports instead of popping its own notifications: Ctx shows one message itself. */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown): void {
    super.error(message, data, false);
  }
}

export class Ctx implements vscode.Disposable {
  readonly log = new Log();
  readonly statusBar = new StatusBar();
  /** Accepted / dismissed / edited-after-accept counts of inline completions (local only; the dashboard shows them). */
  readonly acceptance: AcceptanceRecorder;
  private client: LanguageClient | undefined;
  private clientSubscriptions: vscode.Disposable[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly progressEmitter = new vscode.EventEmitter<ProgressParams>();
  /** Progress notifications of the running fine-tune (commands.ts turns them into a progress notification). */
  readonly onProgress = this.progressEmitter.event;
  /** The current or last fine-tune of this session, as the dashboard draws it. */
  training: TrainingSnapshot = EMPTY_TRAINING;
  private crashTimes: number[] = [];
  private failureShown = false;
  private starting: Promise<void> | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.acceptance = new AcceptanceRecorder(extension.workspaceState);
    this.subscriptions.push(this.log, this.statusBar, this.progressEmitter, this.acceptance);
    this.log.setLevel(readConfig().logLevel);
  }

  pushSubscription(disposable: vscode.Disposable): void {
    this.subscriptions.push(disposable);
  }

  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  /** The running client, after waiting for a start already under way (a command right after activation). */
  async readyClient(): Promise<LanguageClient> {
    await this.starting?.catch(() => undefined);
    return this.requireClient();
  }

  requireClient(): LanguageClient {
    if (!this.client || this.client.state !== State.Running) throw new ServerNotRunningError();
    return this.client;
  }

  /** Starts the sidecar; on failure shows one error (with "Show logs") and leaves the extension usable. */
  async start(): Promise<boolean> {
    this.starting ??= this.startClient().finally(() => (this.starting = undefined));
    try {
      await this.starting;
      return true;
    } catch (err) {
      this.reportFailure(`RepoTune server failed to start: ${describeStartError(err)}`);
      return false;
    }
  }

  async restart(): Promise<boolean> {
    this.failureShown = false;
    this.crashTimes = [];
    await this.stop();
    return this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    vscode.Disposable.from(...this.clientSubscriptions).dispose();
    this.clientSubscriptions = [];
    if (!client) return;
    // A client whose start failed has no process left, and stop() would throw on it: only stop a live one.
    if (!client.isRunning() && client.state !== State.Starting) return;
    try {
      await client.stop(SERVER_STOP_TIMEOUT_MS);
    } catch (err) {
      this.log.warn(`Stopping the RepoTune server: ${describeError(err)}`);
    }
  }

  setLogLevel(): void {
    const level = readConfig().logLevel;
    this.log.setLevel(level);
    void this.client?.setTrace(level === 'trace' ? Trace.Verbose : Trace.Off).catch(() => undefined);
  }

  /** The tooltip offers pause or resume; the sidecar stops or resumes answering without a restart. */
  onCompletionsSettingChanged(): void {
    this.statusBar.refresh();
    const enabled = readConfig().completionsEnabled;
    if (this.isRunning) void this.client?.sendNotification(Notifications.setCompletionsEnabled, { enabled }).catch(() => undefined);
  }

  private reportFailure(message: string): void {
    this.log.error(message);
    this.statusBar.stopped(message);
    if (this.failureShown) return;
    this.failureShown = true;
    void vscode.window.showErrorMessage(message, 'Show logs').then((choice) => {
      if (choice === 'Show logs') this.log.show();
    });
  }

  private async startClient(): Promise<void> {
    await this.stop();
    this.statusBar.starting();
    const serverModule = this.extension.asAbsolutePath(SERVER_BUNDLE);
    if (!fs.existsSync(serverModule)) {
      throw new Error(`${serverModule} is missing; the extension was not built (run \`node esbuild.mjs\`).`);
    }
    const config = readConfig();
    const storageDir = this.extension.globalStorageUri.fsPath;
    fs.mkdirSync(storageDir, { recursive: true });
    const initOptions: InitOptions & { logLevel: string } = {
      storageDir,
      trainerDir: this.extension.asAbsolutePath(TRAINER_DIR),
      pythonPath: config.pythonPath,
      maxSteps: config.maxSteps,
      completionsEnabled: config.completionsEnabled,
      completionsBackend: config.completionsBackend,
      logLevel: config.logLevel,
    };
    // process.execPath is Electron in desktop VS Code: ELECTRON_RUN_AS_NODE makes it behave as plain Node.
    const run = {
      module: serverModule,
      runtime: process.execPath,
      transport: TransportKind.stdio,
      // Huge pages for the weights and KV cache the sidecar serves from (server/src/completion/engine/hugePages.ts).
      options: { env: withHugePageMalloc({ ...process.env, ELECTRON_RUN_AS_NODE: '1', PYTHONUNBUFFERED: '1' }) },
    };
    const serverOptions: ServerOptions = { run, debug: run };
    let reachedRunning = false;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }],
      initializationOptions: initOptions,
      outputChannel: this.log.channel,
      traceOutputChannel: this.log.channel,
      errorHandler: this.errorHandler(() => reachedRunning),
      // Without this handler vscode-languageclient pops its own raw error toast; start() reports the failure once.
      initializationFailedHandler: (error) => {
        this.log.error('The RepoTune server failed to initialize', error);
        return false;
      },
      middleware: {
        // Read on every request, so toggling the setting takes effect without a restart.
        provideInlineCompletionItems: (document, position, context, token, next) =>
          readConfig().completionsEnabled ? this.acceptance.provide(document, position, context, token, next) : undefined,
      },
    };
    const client = new QuietLanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
    this.client = client;
    this.clientSubscriptions.push(
      client.onNotification(Notifications.status, (p: StatusParams) => {
        this.statusBar.onStatus(p);
        if (p.state === 'serving') this.acceptance.setAdapter(p.adapter);
      }),
      client.onNotification(Notifications.progress, (p: ProgressParams) => {
        this.statusBar.onProgress(p);
        this.training = applyTrainingProgress(this.training, p);
        this.progressEmitter.fire(p);
      }),
      client.onDidChangeState((e) => {
        if (e.newState === State.Running) reachedRunning = true;
        if (e.newState === State.Stopped && this.client === client) this.statusBar.stopped('The server stopped.');
      }),
    );
    this.log.info(`Starting ${serverModule} with ${process.execPath}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${SERVER_START_TIMEOUT_MS / 1000} s`)), SERVER_START_TIMEOUT_MS);
    });
    try {
      await Promise.race([client.start(), timeout]);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.setLogLevel();
    this.log.info('RepoTune server started');
  }

  private errorHandler(reachedRunning: () => boolean): ErrorHandler {
    return {
      error: (_error, _message, count): ErrorHandlerResult => ({
        action: (count ?? 0) <= MAX_CONNECTION_ERRORS ? ErrorAction.Continue : ErrorAction.Shutdown,
        handled: true,
      }),
      closed: (): CloseHandlerResult => {
        // A server that never came up would only crash again: the start() caller reports that failure.
        if (!reachedRunning()) return { action: CloseAction.DoNotRestart, handled: true };
        const now = Date.now();
        this.crashTimes = this.crashTimes.filter((t) => now - t < CRASH_RESTART_WINDOW_MS);
        this.crashTimes.push(now);
        if (this.crashTimes.length <= MAX_CRASH_RESTARTS) {
          this.log.warn(`The RepoTune server exited; restarting (${this.crashTimes.length}/${MAX_CRASH_RESTARTS}).`);
          return { action: CloseAction.Restart, handled: true };
        }
        this.reportFailure(`The RepoTune server crashed ${this.crashTimes.length} times in ${CRASH_RESTART_WINDOW_MS / 60_000} minutes and was not restarted.`);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    };
  }

  async dispose(): Promise<void> {
    await this.stop();
    vscode.Disposable.from(...this.subscriptions).dispose();
  }
}
