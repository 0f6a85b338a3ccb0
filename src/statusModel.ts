/**
 * The status bar state machine without 'vscode', so it is unit-tested in plain Node. Inputs: the sidecar's
 * status notifications, its progress notifications, and the client's own view (server stopped/failed).
 */
import * as path from 'node:path';
import type { HealthState, ProgressParams, StatusParams } from '../server/src/protocol';

/** 'stopped' is the client's own state: the sidecar is not running, so it cannot report anything. */
export type StatusBarState = HealthState | 'stopped';

export interface StatusModel {
  state: StatusBarState;
  message: string;
  adapter?: string;
  /** Percent of the running fine-tune, from progress notifications; cleared when training ends. */
  percent?: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
}

export interface StatusView {
  text: string;
  tooltip: string;
  isError: boolean;
}

export const INITIAL_STATUS: StatusModel = { state: 'starting', message: 'Starting the RepoTune server…' };

export function applyStatus(model: StatusModel, status: StatusParams): StatusModel {
  const busy = status.state === 'training' || status.state === 'harvesting';
  return {
    state: status.state,
    message: status.message,
    adapter: status.adapter ?? (status.state === 'serving' ? model.adapter : undefined),
    // Progress only means something while a run is under way.
    ...(busy ? { percent: model.percent, step: model.step, totalSteps: model.totalSteps, loss: model.loss } : {}),
  };
}

export function applyProgress(model: StatusModel, progress: ProgressParams): StatusModel {
  // A progress notification is evidence of a running fine-tune even if the status notification is late.
  const state: StatusBarState = progress.stage === 'harvest' ? 'harvesting' : progress.stage === 'done' ? model.state : 'training';
  return {
    ...model,
    state,
    message: progress.message || model.message,
    percent: progress.percent ?? model.percent,
    step: progress.step ?? model.step,
    totalSteps: progress.totalSteps ?? model.totalSteps,
    loss: progress.loss ?? model.loss,
  };
}

export function serverStopped(message: string): StatusModel {
  return { state: 'stopped', message };
}

export function renderStatus(model: StatusModel): StatusView {
  const hint = '\n\nClick to show the RepoTune logs.';
  switch (model.state) {
    case 'starting':
      return { text: '$(loading~spin) RepoTune', tooltip: `${model.message}${hint}`, isError: false };
    case 'idle':
      return {
        text: '$(sparkle) RepoTune',
        tooltip: `${model.message || 'Idle'}\nRun "RepoTune: Fine-tune on workspace" to train an adapter.${hint}`,
        isError: false,
      };
    case 'harvesting':
      return { text: '$(sync~spin) RepoTune: harvesting', tooltip: `${model.message}${hint}`, isError: false };
    case 'training': {
      const pct = model.percent === undefined ? '' : ` ${Math.round(model.percent)}%`;
      const steps = model.step !== undefined && model.totalSteps ? `\nStep ${model.step}/${model.totalSteps}` : '';
      const loss = model.loss !== undefined ? `, loss ${model.loss.toFixed(3)}` : '';
      return { text: `$(sync~spin) RepoTune: training${pct}`, tooltip: `${model.message}${steps}${loss}${hint}`, isError: false };
    }
    case 'serving': {
      const name = model.adapter ? adapterLabel(model.adapter) : 'adapter';
      return {
        text: `$(check) RepoTune: ${name}`,
        tooltip: `${model.message}${model.adapter ? `\nAdapter: ${model.adapter}` : ''}${hint}`,
        isError: false,
      };
    }
    case 'error':
      return { text: '$(error) RepoTune', tooltip: `${model.message}${hint}`, isError: true };
    case 'stopped':
      return { text: '$(circle-slash) RepoTune', tooltip: `RepoTune server is not running.\n${model.message}${hint}`, isError: true };
  }
}

/** "<run>/adapter" paths are labelled by their run folder; anything else by its last segment. */
export function adapterLabel(adapter: string): string {
  const base = path.basename(adapter);
  if (base === 'adapter' && path.dirname(adapter) !== '.') return path.basename(path.dirname(adapter));
  return base || adapter;
}
