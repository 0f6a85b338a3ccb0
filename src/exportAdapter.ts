/**
 * "RepoTune: Export adapter" (also an action of "Manage adapters"): which run, which format, which folder, then the
 * sidecar's `repotune/exportAdapter` in a cancellable progress notification. Invoked with arguments
 * (`executeCommand('repotune.exportAdapter', { runId, format, quantize, targetDir })`, or a keybinding's args) it
 * asks only what is missing. A non-empty folder is never replaced without an explicit modal yes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import {
  Notifications,
  Requests,
  type ExportAdapterParams,
  type ExportAdapterResult,
  type ExportFormat,
  type ExportProgressParams,
  type ExportQuantization,
  type ListRunsResult,
  type RunSummary,
} from '../server/src/protocol';
import { EXPORT_CHOICES, adapterRow, exportFolderName, exportUsage, mayReplaceFolder, runIdLabel, type ExportChoice } from './adapterItems';
import type { Ctx } from './ctx';
import { formatBytes } from './harvestSummaryText';

export interface ExportCommandArgs {
  runId?: string;
  format?: ExportFormat;
  quantize?: ExportQuantization;
  targetDir?: string;
}

const REPLACE = 'Replace its contents';
const SUBFOLDER = 'Export into a new subfolder';

export async function exportAdapterCommand(ctx: Ctx, args: ExportCommandArgs = {}): Promise<ExportAdapterResult | undefined> {
  const client = await ctx.readyClient();
  const run = args.runId ? { runId: args.runId } : await pickRun(await client.sendRequest<ListRunsResult>(Requests.listRuns, {}));
  if (!run) return undefined;
  const choice = args.format ? choiceFor(args.format, args.quantize ?? null) : await pickFormat(run.runId);
  if (!choice) return undefined;
  let targetDir = args.targetDir ?? (await pickFolder(choice));
  if (!targetDir) return undefined;
  let overwrite = false;
  if (isNonEmptyDir(targetDir)) {
    const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const replaceable = mayReplaceFolder(targetDir, workspaceFolders, os.homedir());
    const subfolder = exportFolderName(run.runId, choice);
    const answer = await vscode.window.showWarningMessage(
      replaceable
        ? `${targetDir} is not empty. Export into a new subfolder "${subfolder}", or replace everything it holds?`
        : `${targetDir} is not empty (and holds your work). Export into a new subfolder "${subfolder}"?`,
      { modal: true },
      ...(replaceable ? [SUBFOLDER, REPLACE] : [SUBFOLDER]),
    );
    if (answer === SUBFOLDER) targetDir = path.join(targetDir, exportFolderName(run.runId, choice));
    else if (answer === REPLACE) overwrite = true;
    else return undefined;
  }
  const params: ExportAdapterParams = { runId: run.runId, format: choice.format, quantize: choice.quantize, targetDir, overwrite };
  ctx.log.info(`Export adapter: ${JSON.stringify(params)}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `RepoTune: exporting (${choice.label})`, cancellable: true },
    async (progress, token) => {
      const listener = client.onNotification(Notifications.exportProgress, (p: ExportProgressParams) => progress.report({ message: p.message }));
      try {
        return await client.sendRequest<ExportAdapterResult>(Requests.exportAdapter, params, token);
      } catch (err) {
        if (token.isCancellationRequested || kindOf(err) === 'cancelled') return undefined;
        throw err instanceof ResponseError ? new Error(err.message) : err;
      } finally {
        listener.dispose();
      }
    },
  );
  if (!result) {
    void vscode.window.showInformationMessage('RepoTune: export cancelled; nothing was written.');
    return undefined;
  }
  void vscode.window.showInformationMessage(
    `RepoTune: exported run ${runIdLabel(result.runId)} as ${choice.label} to ${result.targetDir} ` +
      `(${result.files.length} files, ${formatBytes(result.bytes)}, ${result.seconds.toFixed(1)} s). ${exportUsage(choice, result.targetDir)}`.trimEnd(),
  );
  return result;
}

function choiceFor(format: ExportFormat, quantize: ExportQuantization): ExportChoice {
  const found = EXPORT_CHOICES.find((c) => c.format === format && c.quantize === quantize);
  if (!found) throw new Error(`unknown export format ${format}${quantize ? ` (${quantize})` : ''}`);
  return found;
}

async function pickRun(list: ListRunsResult): Promise<{ runId: string } | undefined> {
  const exportable = list.runs.filter((r) => r.steps !== undefined);
  if (exportable.length === 0) {
    void vscode.window.showInformationMessage('RepoTune: no saved adapter to export yet. Run "RepoTune: Fine-tune on workspace" first.');
    return undefined;
  }
  if (exportable.length === 1) return exportable[0];
  type RunPick = vscode.QuickPickItem & { run: RunSummary };
  const items: RunPick[] = exportable.map((run) => ({ ...adapterRow(run), run, picked: run.active }));
  const picked = await vscode.window.showQuickPick(items, { title: 'RepoTune: export which adapter?', matchOnDescription: true });
  return picked?.run;
}

async function pickFormat(runId: string): Promise<ExportChoice | undefined> {
  type FormatPick = vscode.QuickPickItem & { choice: ExportChoice };
  const items: FormatPick[] = EXPORT_CHOICES.map((choice) => ({ label: choice.label, detail: choice.detail, choice }));
  const picked = await vscode.window.showQuickPick(items, { title: `RepoTune: export run ${runIdLabel(runId)} as` });
  return picked?.choice;
}

async function pickFolder(choice: ExportChoice): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Export here',
    title: `RepoTune: folder for the ${choice.label} (an empty one, or a new subfolder is made)`,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0]?.fsPath;
}

function isNonEmptyDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

function kindOf(err: unknown): string | undefined {
  return err instanceof ResponseError ? (err.data as { kind?: string } | undefined)?.kind : undefined;
}
