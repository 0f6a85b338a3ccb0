/**
 * How "Manage adapters" shows the workspace's runs: one line each, newest first, the active one marked, and for every
 * other run the reason it is not serving. Pure (no 'vscode'), so it is unit-tested in plain Node.
 */
import type { RunSummary } from '../server/src/protocol';

export interface AdapterRow {
  label: string;
  description: string;
  detail: string;
}

/** Actions offered for one run; `undefined` entries are left out of the menu. */
export type AdapterAction = 'activate' | 'delete' | 'openEvaluation';

/** "2026-11-23 17:16:08" from the run's ISO start time, in UTC so every machine shows the same label. */
export function runDateLabel(createdAt: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(createdAt);
  return m ? `${m[1]} ${m[2]}` : createdAt;
}

export function adapterRow(run: RunSummary): AdapterRow {
  const icon = run.active ? '$(check)' : run.activatable ? '$(circle-large-outline)' : '$(circle-slash)';
  const facts = [
    run.steps !== undefined ? `${run.steps} step${run.steps === 1 ? '' : 's'}` : undefined,
    run.finalLoss !== undefined ? `loss ${run.finalLoss.toFixed(3)}` : undefined,
    run.evaluation ? (run.evaluation.gatePassed ? 'gate passed' : 'gate failed') : 'not evaluated',
  ].filter((f): f is string => f !== undefined);
  return {
    label: `${icon} ${runDateLabel(run.createdAt)}${run.active ? ' (active)' : ''}`,
    description: facts.join(' · '),
    detail: run.active ? run.evaluation?.reason ?? 'Serving completions.' : run.inactiveReason ?? '',
  };
}

export function adapterActions(run: RunSummary): AdapterAction[] {
  const actions: AdapterAction[] = [];
  if (!run.active && run.activatable) actions.push('activate');
  if (run.evaluation) actions.push('openEvaluation');
  if (!run.active) actions.push('delete');
  return actions;
}

export const ACTION_LABELS: Record<AdapterAction, string> = {
  activate: '$(play) Activate this adapter',
  openEvaluation: '$(graph) Open its evaluation report',
  delete: '$(trash) Delete this run',
};
