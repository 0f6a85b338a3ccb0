/**
 * "RepoTune: Manage adapters": the workspace's fine-tuning runs in a QuickPick (newest first, the active one
 * marked, why the others are not serving), then what can be done with the chosen one: activate, open its
 * evaluation, delete. A rollback to the previously active adapter is the first entry when there is one.
 */
import * as vscode from 'vscode';
import { Requests, type ActivateRunResult, type ListRunsResult, type RunSummary } from '../server/src/protocol';
import { ACTION_LABELS, adapterActions, adapterRow, runDateLabel, type AdapterAction } from './adapterItems';
import type { Ctx } from './ctx';
import { exportAdapterCommand } from './exportAdapter';

type RunPick = vscode.QuickPickItem & ({ run: RunSummary } | { rollback: string });
type ActionPick = vscode.QuickPickItem & { action: AdapterAction };

export async function manageAdapters(ctx: Ctx): Promise<void> {
  const client = await ctx.readyClient();
  const { runs, rollbackTo } = await client.sendRequest<ListRunsResult>(Requests.listRuns, {});
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('RepoTune: no adapters yet. Run "RepoTune: Fine-tune on workspace" to train one.');
    return;
  }
  const rollbackRun = runs.find((r) => r.runId === rollbackTo);
  const items: Array<RunPick | vscode.QuickPickItem> = [
    ...(rollbackTo
      ? [
          {
            label: `$(history) Roll back to ${rollbackRun ? runDateLabel(rollbackRun.createdAt) : rollbackTo}`,
            description: 'the previously active adapter',
            rollback: rollbackTo,
          },
          { label: 'Runs', kind: vscode.QuickPickItemKind.Separator },
        ]
      : []),
    ...runs.map((run) => ({ ...adapterRow(run), run })),
  ];
  const picked = (await vscode.window.showQuickPick(items, {
    title: `RepoTune adapters (${runs.length} run${runs.length === 1 ? '' : 's'})`,
    placeHolder: 'Choose a run to activate, inspect, export or delete it',
    matchOnDescription: true,
    matchOnDetail: true,
  })) as RunPick | undefined;
  if (!picked) return;
  if ('rollback' in picked) {
    const result = await client.sendRequest<ActivateRunResult>(Requests.rollbackRun, {});
    void vscode.window.showInformationMessage(`RepoTune: ${result.message}`);
    return;
  }
  await runAction(ctx, picked.run);
}

async function runAction(ctx: Ctx, run: RunSummary): Promise<void> {
  const client = ctx.requireClient();
  const date = runDateLabel(run.createdAt);
  const actions: ActionPick[] = adapterActions(run).map((action) => ({ label: ACTION_LABELS[action], action }));
  const picked = await vscode.window.showQuickPick(actions, { title: `RepoTune run ${date}`, placeHolder: adapterRow(run).detail });
  if (!picked) return;
  switch (picked.action) {
    case 'activate': {
      const result = await client.sendRequest<ActivateRunResult>(Requests.activateRun, { runId: run.runId });
      void vscode.window.showInformationMessage(`RepoTune: ${result.message}`);
      return;
    }
    case 'export':
      await exportAdapterCommand(ctx, { runId: run.runId });
      return;
    case 'openEvaluation':
      if (run.evaluation) await vscode.window.showTextDocument(vscode.Uri.file(run.evaluation.reportPath), { preview: true });
      return;
    case 'delete': {
      const confirm = await vscode.window.showWarningMessage(
        `Delete the RepoTune run of ${date}? Its adapter, export and evaluation are removed from disk.`,
        { modal: true },
        'Delete',
      );
      if (confirm !== 'Delete') return;
      await client.sendRequest(Requests.deleteRun, { runId: run.runId });
      void vscode.window.showInformationMessage(`RepoTune: deleted the run of ${date}.`);
      return;
    }
  }
}
