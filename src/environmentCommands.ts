/**
 * "RepoTune: Check environment" and "RepoTune: Create trainer environment". The check asks the sidecar, so it
 * reports the Python the trainer really runs with; the environment is created here, in the extension host (it runs
 * where the workspace is, locally or on a VS Code Remote machine), by the VS Code-free core in
 * server/src/environment/, into <globalStorage>/venv, which the sidecar prefers once it is complete.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Requests, type StatusParams, type TrainerEnvironment } from '../server/src/protocol';
import { createTrainerEnv } from '../server/src/environment/createTrainerEnv';
import { EnvSetupError } from '../server/src/environment/setupErrors';
import { readConfig } from './config';
import type { Ctx } from './ctx';
import { describeError } from './log';
import { environmentVerdict } from './environmentVerdict';
import { COMMANDS, SETTINGS_SECTION } from './settingsSchema';
import { openWalkthrough } from './walkthrough';
import { singleFlight } from './singleFlight';

const REQUIREMENTS = 'server/trainer/requirements.txt';
const VENV_DIR_NAME = 'venv';
/** pip lines are long: the progress notification shows the start of the latest one. */
const PROGRESS_LINE_CHARS = 90;
const CREATE_ENV = 'Create environment';
const SHOW_LOGS = 'Show logs';
const OPEN_WALKTHROUGH = 'Open walkthrough';

export async function checkEnvironment(ctx: Ctx): Promise<void> {
  const client = await ctx.readyClient();
  const env = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'RepoTune: checking the Python environment' },
    () => client.sendRequest<TrainerEnvironment>(Requests.checkEnvironment, {}),
  );
  const verdict = environmentVerdict(env);
  ctx.log.info(`Environment check: ${verdict.headline}\n  ${verdict.facts.join('\n  ')}`);
  const ready = verdict.kind === 'gpu' || verdict.kind === 'cpu';
  const actions = ready ? [SHOW_LOGS, OPEN_WALKTHROUGH] : [CREATE_ENV, SHOW_LOGS, OPEN_WALKTHROUGH];
  const message = `RepoTune: ${verdict.headline}. ${verdict.facts.slice(0, 3).join(' · ')}`;
  const show = ready ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(message, ...actions).then((choice) => {
    if (choice === CREATE_ENV) void vscode.commands.executeCommand(COMMANDS.setupEnvironment.command);
    else if (choice === SHOW_LOGS) ctx.log.show();
    else if (choice === OPEN_WALKTHROUGH) void openWalkthrough();
  });
}

// Module-wide: every window's setup writes the same <globalStorage>/venv, so a second one would race the first.
const oneAtATime = singleFlight((message) => void vscode.window.showInformationMessage(message));

export async function setupEnvironment(ctx: Ctx): Promise<void> {
  await oneAtATime('setup-environment', 'RepoTune: the trainer environment is already being created.', () => createEnvironment(ctx));
}

async function createEnvironment(ctx: Ctx): Promise<void> {
  const venvDir = path.join(ctx.extension.globalStorageUri.fsPath, VENV_DIR_NAME);
  const requirementsFile = ctx.extension.asAbsolutePath(REQUIREMENTS);
  ctx.log.info(`Creating the trainer environment in ${venvDir} from ${requirementsFile}`);
  ctx.log.show(); // the log is the progress detail: every venv and pip line goes there
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'RepoTune: trainer environment', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      let stage = 'starting…';
      try {
        progress.report({ message: stage });
        const result = await createTrainerEnv({
          venvDir,
          requirementsFile,
          signal: abort.signal,
          onStep: (m) => {
            stage = m;
            progress.report({ message: m });
          },
          onLine: (line) => {
            ctx.log.info(`[setup] ${line}`);
            if (line.trim()) progress.report({ message: `${stage} ${line.trim().slice(0, PROGRESS_LINE_CHARS)}` });
          },
        });
        return { result };
      } catch (err) {
        return { err };
      } finally {
        sub.dispose();
      }
    },
  );
  if ('err' in outcome) return reportSetupFailure(ctx, outcome.err);
  const { python, torch } = outcome.result;
  ctx.log.info(`Trainer environment ready: ${python} (torch ${torch === 'cpu' ? 'CPU build' : 'from the package index'})`);
  await useNewEnvironment(ctx, python);
}

function reportSetupFailure(ctx: Ctx, err: unknown): void {
  const kind = err instanceof EnvSetupError ? err.kind : 'internal';
  const message = `RepoTune: ${kind === 'cancelled' ? '' : 'creating the trainer environment failed: '}${describeError(err)}`;
  ctx.log.error(message);
  const show = kind === 'cancelled' ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
  const actions = kind === 'cancelled' ? [SHOW_LOGS] : ['Retry', SHOW_LOGS];
  void show(message, ...actions).then((choice) => {
    if (choice === 'Retry') void vscode.commands.executeCommand(COMMANDS.setupEnvironment.command);
    else if (choice === SHOW_LOGS) ctx.log.show();
  });
}

/** The sidecar resolves Python at start: restart it onto the new venv, unless a setting or a running job says no. */
async function useNewEnvironment(ctx: Ctx, python: string): Promise<void> {
  const configured = readConfig().pythonPath;
  if (configured && configured !== python) {
    const use = 'Use the new environment';
    const choice = await vscode.window.showWarningMessage(
      `RepoTune: the trainer environment is ready (${python}), but repotune.pythonPath points to ${configured}, which wins.`,
      use,
      SHOW_LOGS,
    );
    if (choice === use) await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('pythonPath', python, vscode.ConfigurationTarget.Global);
    else if (choice === SHOW_LOGS) ctx.log.show();
    return; // changing repotune.pythonPath offers the restart itself (extension.ts)
  }
  const status = ctx.isRunning ? await ctx.requireClient().sendRequest<StatusParams>(Requests.status).catch(() => undefined) : undefined;
  if (status?.state === 'training' || status?.state === 'harvesting') {
    void vscode.window.showInformationMessage(
      `RepoTune: the trainer environment is ready (${python}). Run "RepoTune: Restart server" after the fine-tune to use it.`,
    );
    return;
  }
  if (await ctx.restart()) await checkEnvironment(ctx);
}
