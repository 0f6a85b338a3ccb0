/**
 * Entry point of the RepoTune extension: builds one Ctx, registers the commands, starts the sidecar.
 * A sidecar that fails to start is reported once (Ctx.start); the commands stay registered and answer
 * "RepoTune server is not running" rather than throwing.
 */
import * as vscode from 'vscode';
import { RESTART_SETTINGS, affectsAny } from './config';
import { registerCommands } from './commands';
import { Ctx } from './ctx';
import { openWalkthroughOnce } from './walkthrough';

let ctx: Ctx | undefined;

/** What activate() returns: lets the e2e harness and other extensions see whether the sidecar is up. */
export interface RepoTuneApi {
  isServerRunning(): boolean;
}

export async function activate(context: vscode.ExtensionContext): Promise<RepoTuneApi> {
  const current = new Ctx(context);
  ctx = current;
  registerCommands(current);
  current.pushSubscription(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('repotune.logLevel')) current.setLogLevel();
      if (event.affectsConfiguration('repotune.completions.enabled')) current.onCompletionsSettingChanged();
      if (!affectsAny(event, RESTART_SETTINGS)) return;
      const choice = await vscode.window.showInformationMessage(
        'RepoTune: a setting the server reads at start (Python, completion backend) changed. Restart the server to use it?',
        'Restart',
      );
      if (choice === 'Restart') await vscode.commands.executeCommand('repotune.restartServer');
    }),
  );
  current.log.info(`RepoTune ${context.extension.packageJSON.version ?? ''} activating (VS Code ${vscode.version})`);
  openWalkthroughOnce(context);
  // Not awaited: activation must not wait for the sidecar, and a failure is reported by start() itself.
  void current.start();
  return { isServerRunning: () => current.isRunning };
}

export async function deactivate(): Promise<void> {
  const current = ctx;
  ctx = undefined;
  await current?.dispose();
}
