/**
 * Before training: the sidecar sends the harvest summary (`repotune/confirmTraining` when
 * repotune.confirmBeforeTraining is on, else `repotune/harvestSummary`). Asking shows what will be trained on and
 * waits for "Start training"; "Show manifest" opens the run's manifest.json and asks again; anything else cancels.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { Notifications, Requests, type ConfirmTrainingResult, type HarvestSummaryParams } from '../server/src/protocol';
import type { Ctx } from './ctx';
import { describeError } from './log';
import { CONFIRM_CHOICES, harvestSummaryText } from './harvestSummaryText';

/** Handlers for the duration of one fine-tune request; dispose them when it ends. */
export function listenForHarvestSummary(ctx: Ctx, client: LanguageClient, onSummary: (text: string) => void): vscode.Disposable {
  return vscode.Disposable.from(
    client.onRequest(Requests.confirmTraining, async (summary: HarvestSummaryParams): Promise<ConfirmTrainingResult> => {
      const text = harvestSummaryText(summary);
      ctx.log.info(`Harvest: ${text}\n${summary.text}`);
      onSummary(text);
      return { start: await askToStart(ctx, text, summary.manifestPath) };
    }),
    client.onNotification(Notifications.harvestSummary, (summary: HarvestSummaryParams) => {
      const text = harvestSummaryText(summary);
      ctx.log.info(`Harvest: ${text}\n${summary.text}`);
      onSummary(text);
    }),
  );
}

async function askToStart(ctx: Ctx, text: string, manifestPath: string): Promise<boolean> {
  for (;;) {
    const choice = await vscode.window.showInformationMessage(
      `RepoTune harvested the workspace: ${text} Start training?`,
      CONFIRM_CHOICES.start,
      CONFIRM_CHOICES.manifest,
      CONFIRM_CHOICES.cancel,
    );
    if (choice === CONFIRM_CHOICES.start) return true;
    if (choice !== CONFIRM_CHOICES.manifest) {
      ctx.log.info('Training not started: the user cancelled after the harvest summary');
      return false;
    }
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(manifestPath), { preview: true, preserveFocus: false });
    } catch (err) {
      void vscode.window.showWarningMessage(`RepoTune: could not open ${manifestPath}: ${describeError(err)}`);
    }
  }
}
