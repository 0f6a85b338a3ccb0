/** The RepoTune commands. Each one answers with a message; none lets an exception reach the user. */
import * as vscode from 'vscode';
import { Requests, type FineTuneParams, type FineTuneResult, type ProgressParams } from '../server/src/protocol';
import { readConfig } from './config';
import { Ctx, ServerNotRunningError } from './ctx';
import { describeError } from './log';
import { formatProgress, progressIncrement } from './progressText';
import { COMMANDS, SETTINGS_SECTION } from './settingsSchema';
import { generateModelCode } from './generateModel';
import { manageAdapters } from './adapters';
import { DashboardPanel } from './dashboard/panel';
import { chooseModel } from './chooseModel';
import { checkEnvironment, setupEnvironment } from './environmentCommands';
import { openWalkthrough } from './walkthrough';
import { listenForHarvestSummary } from './trainingConfirm';
import { exportAdapterCommand, type ExportCommandArgs } from './exportAdapter';
import { singleFlight } from './singleFlight';

/** Wrap a command so that any failure becomes one error message (and a log line), not an unhandled rejection. */
function safely(ctx: Ctx, name: string, body: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    ctx.log.info(`Command: ${name}`);
    try {
      await body();
    } catch (err) {
      const message = err instanceof ServerNotRunningError ? err.message : `RepoTune: ${name} failed: ${describeError(err)}`;
      ctx.log.error(message);
      const choice = await vscode.window.showErrorMessage(message, 'Show logs');
      if (choice === 'Show logs') ctx.log.show();
    }
  };
}

export function registerCommands(ctx: Ctx): void {
  const register = (id: string, name: string, body: () => Promise<unknown>) =>
    ctx.pushSubscription(vscode.commands.registerCommand(id, safely(ctx, name, body)));

  const oneAtATime = singleFlight((message) => void vscode.window.showInformationMessage(message));
  register(COMMANDS.fineTune.command, 'fine-tune', () =>
    oneAtATime('fine-tune', 'RepoTune: a fine-tune is already running.', () => fineTune(ctx)),
  );

  register(COMMANDS.generateModelCode.command, 'generate model code', () => generateModelCode(ctx));

  register(COMMANDS.showLogs.command, 'show logs', async () => ctx.log.show());

  register(COMMANDS.openDashboard.command, 'open dashboard', async () => DashboardPanel.show(ctx));

  register(COMMANDS.chooseModel.command, 'choose model', () => chooseModel(ctx));

  register(COMMANDS.manageAdapters.command, 'manage adapters', () => manageAdapters(ctx));

  // Arguments (run, format, folder) come from executeCommand or a keybinding; the palette passes none.
  ctx.pushSubscription(
    vscode.commands.registerCommand(COMMANDS.exportAdapter.command, (args?: unknown) =>
      safely(ctx, 'export adapter', () => exportAdapterCommand(ctx, typeof args === 'object' && args !== null ? (args as ExportCommandArgs) : {}))(),
    ),
  );

  register(COMMANDS.checkEnvironment.command, 'check environment', () => checkEnvironment(ctx));

  register(COMMANDS.setupEnvironment.command, 'create trainer environment', () => setupEnvironment(ctx));

  register(COMMANDS.getStarted.command, 'get started', () => openWalkthrough());

  register(COMMANDS.toggleCompletions.command, 'pause/resume completions', async () => {
    const enabled = !readConfig().completionsEnabled;
    // Global: pausing is a user's choice about their editor, not a property of the workspace.
    await vscode.workspace
      .getConfiguration(SETTINGS_SECTION)
      .update('completions.enabled', enabled, vscode.ConfigurationTarget.Global);
    void vscode.window.showInformationMessage(`RepoTune: inline completions ${enabled ? 'resumed' : 'paused'}.`);
  });

  register(COMMANDS.restartServer.command, 'restart server', async () => {
    ctx.log.info('Restarting the RepoTune server (user request)');
    if (await ctx.restart()) void vscode.window.showInformationMessage('RepoTune server restarted.');
  });
}

async function fineTune(ctx: Ctx): Promise<void> {
  // Training runs Python over the workspace's files with settings the workspace may carry: trusted folders only.
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      'RepoTune: fine-tuning is disabled in an untrusted workspace. Trust this folder (Workspaces: Manage Workspace Trust) to use it.',
    );
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage('RepoTune: open a folder (a git repository on this machine) to fine-tune on it.');
    return;
  }
  const client = await ctx.readyClient();
  const config = readConfig();
  const params: FineTuneParams = {
    workspace: folder.uri.fsPath,
    modelDir: config.modelDirectory,
    maxSteps: config.maxSteps || undefined, // 0: the sidecar sizes the run
    gate: config.evaluationGate,
    quantization: config.servingQuantization,
    confirmBeforeTraining: config.confirmBeforeTraining,
  };
  ctx.log.info(`Fine-tune on ${params.workspace} (${params.maxSteps ?? 'automatic'} steps, model ${params.modelDir ?? 'demo'})`);

  type Outcome = { result: FineTuneResult } | { cancelledByUser: true };
  const outcome = await vscode.window.withProgress<Outcome>(
    { location: vscode.ProgressLocation.Notification, title: 'RepoTune', cancellable: true },
    async (progress, token) => {
      let reported = 0;
      const listener = ctx.onProgress((p: ProgressParams) => {
        const increment = progressIncrement(reported, p.percent);
        reported += increment;
        progress.report({ message: formatProgress(p), increment });
      });
      const summaryListener = listenForHarvestSummary(ctx, client, (text) => progress.report({ message: `harvested: ${text}` }));
      const cancelListener = token.onCancellationRequested(() => {
        ctx.log.info('Fine-tune cancelled by the user');
        // The request's own $/cancelRequest reaches the sidecar too; this explicit request also stops a
        // trainer step already under way. Best effort: the server may be gone.
        client.sendRequest(Requests.cancelFineTune, {}).catch(() => undefined);
      });
      try {
        progress.report({ message: 'starting…' });
        const result = await client.sendRequest<FineTuneResult>(Requests.fineTune, params, token);
        return { result };
      } catch (err) {
        if (token.isCancellationRequested) return { cancelledByUser: true };
        throw err;
      } finally {
        listener.dispose();
        summaryListener.dispose();
        cancelListener.dispose();
      }
    },
  );

  if (!('result' in outcome) || outcome.result.cancelled) {
    const n = 'result' in outcome ? outcome.result.steps : undefined;
    const steps = n === undefined ? '' : n === 0 ? ' before training; nothing was trained' : ` after ${n} step${n === 1 ? '' : 's'}`;
    void vscode.window.showInformationMessage(`RepoTune: fine-tune cancelled${steps}.`);
    return;
  }
  const r = outcome.result;
  ctx.log.info(`Fine-tune done: ${JSON.stringify(r)}`);
  // The default model is the offline DEMO model: say so, so nobody mistakes its completions for a real model's.
  const demo = params.modelDir ? '' : ' with the offline DEMO model (random weights; set repotune.modelDirectory for a real one)';
  if (r.evaluation) ctx.log.info(`Evaluation (${r.evaluation.reportPath}):\n${r.evaluation.table}`);
  const summary =
    `RepoTune: fine-tuned${demo} on ${r.filesUsed} files (${r.examples} examples), ${r.steps} steps, final loss ` +
    `${r.finalLoss.toFixed(3)}. Adapter: ${r.adapterDir}`;
  // Not activated is not an error, but the user must see why completions did not change.
  // The evaluation table is on the dashboard; offer it whenever the run was evaluated.
  const buttons = r.evaluation ? ['Show evaluation', 'Show logs'] : ['Show logs'];
  const show = r.activated
    ? vscode.window.showInformationMessage(`${summary}. Activated: ${r.activationReason}`, ...buttons)
    : vscode.window.showWarningMessage(`${summary}. Not activated: ${r.activationReason}`, ...buttons);
  void show.then((choice) => {
    if (choice === 'Show logs') ctx.log.show();
    else if (choice === 'Show evaluation') DashboardPanel.show(ctx);
  });
}
