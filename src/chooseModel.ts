/**
 * "RepoTune: Choose model": a hub preset (downloaded by the sidecar into the HF cache, with progress and Cancel),
 * a local model folder, or the offline demo model. The choice is written to repotune.modelDirectory (user settings:
 * a model path is a property of this machine, not of the workspace).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  Notifications,
  Requests,
  type DownloadModelResult,
  type DownloadProgressParams,
} from '../server/src/protocol';
import type { Ctx } from './ctx';
import { MODEL_PRESETS, downloadProgressText, presetDescription, type ModelPreset } from './modelPresets';
import { SETTINGS_SECTION } from './settingsSchema';

type ModelPick = vscode.QuickPickItem & ({ preset: ModelPreset } | { choice: 'folder' | 'demo' });

async function setModelDirectory(dir: string | undefined): Promise<void> {
  await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('modelDirectory', dir, vscode.ConfigurationTarget.Global);
}

export async function chooseModel(ctx: Ctx): Promise<void> {
  const items: Array<ModelPick | vscode.QuickPickItem> = [
    { label: 'Hugging Face hub', kind: vscode.QuickPickItemKind.Separator },
    ...MODEL_PRESETS.map((preset) => ({ label: preset.label, description: presetDescription(preset), detail: preset.repoId, preset })),
    { label: 'Other', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder) Local folder…', description: 'a Hugging Face model directory on this machine', choice: 'folder' as const },
    { label: '$(beaker) Offline demo model', description: 'tiny, random weights: for trying RepoTune out', choice: 'demo' as const },
  ];
  const picked = (await vscode.window.showQuickPick(items, { title: 'RepoTune: choose the model to fine-tune', matchOnDetail: true })) as ModelPick | undefined;
  if (!picked) return;
  if ('preset' in picked) return downloadPreset(ctx, picked.preset);
  if (picked.choice === 'demo') {
    await setModelDirectory(undefined);
    void vscode.window.showInformationMessage('RepoTune: fine-tuning will use the offline demo model.');
    return;
  }
  const [folder] =
    (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model' })) ?? [];
  if (!folder) return;
  if (!fs.existsSync(path.join(folder.fsPath, 'config.json'))) {
    void vscode.window.showErrorMessage(`RepoTune: ${folder.fsPath} is not a Hugging Face model directory (no config.json).`);
    return;
  }
  await setModelDirectory(folder.fsPath);
  void vscode.window.showInformationMessage(`RepoTune: fine-tuning will use ${folder.fsPath}.`);
}

async function downloadPreset(ctx: Ctx, preset: ModelPreset): Promise<void> {
  const client = await ctx.readyClient();
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `RepoTune: downloading ${preset.repoId}`, cancellable: true },
    async (progress, token) => {
      // One download at a time (the command waits for this one), so this handler is the method's only one.
      const listener = client.onNotification(Notifications.downloadProgress, (p: DownloadProgressParams) => {
        if (p.repoId === preset.repoId) progress.report({ message: downloadProgressText(p.file, p.bytes, p.totalBytes) });
      });
      try {
        return await client.sendRequest<DownloadModelResult>(Requests.downloadModel, { repoId: preset.repoId }, token);
      } catch (err) {
        if (token.isCancellationRequested) return undefined;
        throw err;
      } finally {
        listener.dispose();
      }
    },
  );
  if (!result) {
    void vscode.window.showInformationMessage(`RepoTune: download of ${preset.repoId} cancelled; run "Choose model" again to resume it.`);
    return;
  }
  await setModelDirectory(result.modelDir);
  ctx.log.info(`Model ${preset.repoId} downloaded to ${result.modelDir}`);
  void vscode.window.showInformationMessage(`RepoTune: downloaded ${preset.repoId}; fine-tuning will use ${result.modelDir}.`);
}
