/**
 * The sidecar's requests that move model files — "Export adapter" (`repotune/exportAdapter`) and "Choose model"'s hub
 * download (`repotune/downloadModel`) — with their progress notifications and error kinds. Both are cancellable
 * from the client and never touch the training worker: an export gets a worker of its own.
 */
import { ResponseError, type Connection } from 'vscode-languageserver/node';
import { Notifications, Requests, type DownloadModelParams, type DownloadModelResult, type ExportAdapterParams } from './protocol';
import { ExportAdapterError, exportAdapter } from './pipeline/exportAdapter';
import { HubError, downloadModel, hubCacheDir } from './models/hubDownload';
import type { TrainerProcess } from './training/trainerProcess';

/** "Export adapter": errors carry data.kind (`target_not_empty` makes the client ask before replacing). */
const EXPORT_ERROR = 6;
/** Hub download failures; data.kind is `hub` (network, checksum, missing file) or `internal`. */
const HUB_ERROR = 5;
/** Between two download-progress notifications per file. */
const DOWNLOAD_PROGRESS_INTERVAL_MS = 200;

export interface ModelRequestDeps {
  /** The open workspace folder (read per request: it is known only after initialize). */
  readonly workspaceRoot: () => string | undefined;
  readonly storageDir: () => string;
  /** A fresh Python worker for one export: a cancel kills it without touching the training worker. */
  readonly makeWorker: () => TrainerProcess;
  readonly log: (level: 'debug' | 'info' | 'warning' | 'error', message: string) => void;
}

export function registerModelRequests(connection: Connection, deps: ModelRequestDeps): void {
  const { log } = deps;

  connection.onRequest(Requests.exportAdapter, async (params: ExportAdapterParams, token) => {
    const workspace = deps.workspaceRoot();
    if (!workspace) throw new ResponseError(EXPORT_ERROR, 'Open a folder to export its adapters.', { kind: 'bad_request' });
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const result = await exportAdapter({
        storageDir: deps.storageDir(),
        workspace,
        runId: params?.runId,
        format: params?.format,
        quantize: params?.quantize ?? null,
        targetDir: String(params?.targetDir ?? ''),
        overwrite: params?.overwrite === true,
        makeWorker: deps.makeWorker,
        signal: abort.signal,
        onProgress: (message) => void connection.sendNotification(Notifications.exportProgress, { message }),
      });
      log('info', `Exported run ${result.runId} (${params.format}) to ${result.targetDir} in ${result.seconds.toFixed(1)} s`);
      return result;
    } catch (err) {
      const e = err as Error;
      const kind = err instanceof ExportAdapterError ? err.kind : 'failed';
      log(kind === 'cancelled' || kind === 'target_not_empty' ? 'info' : 'warning', `Export: ${e.message}`);
      throw new ResponseError(EXPORT_ERROR, e.message, { kind });
    } finally {
      sub.dispose();
    }
  });

  connection.onRequest(Requests.downloadModel, async (params: DownloadModelParams, token): Promise<DownloadModelResult> => {
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    let lastSent = 0;
    try {
      const modelDir = await downloadModel({
        repoId: String(params?.repoId ?? ''),
        revision: params?.revision,
        cacheDir: hubCacheDir(),
        token: process.env.HF_TOKEN,
        signal: abort.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (p.bytes < p.totalBytes && now - lastSent < DOWNLOAD_PROGRESS_INTERVAL_MS) return;
          lastSent = now;
          void connection.sendNotification(Notifications.downloadProgress, { repoId: params.repoId, ...p });
        },
      });
      log('info', `Downloaded ${params.repoId} to ${modelDir}`);
      return { modelDir };
    } catch (err) {
      const e = err as Error;
      log('warning', `Downloading ${params?.repoId}: ${e.message}`);
      throw new ResponseError(HUB_ERROR, abort.signal.aborted ? 'Download cancelled.' : e.message, { kind: err instanceof HubError ? 'hub' : 'internal' });
    } finally {
      sub.dispose();
    }
  });
}
