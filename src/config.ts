/** Typed read access to the repotune.* settings declared in settingsSchema.ts. */
import * as vscode from 'vscode';
import {
  COMPLETION_BACKENDS,
  LOG_LEVELS,
  MAX_STEPS_MAX,
  MAX_STEPS_MIN,
  SETTINGS,
  SETTINGS_SECTION,
  isServingQuantization,
  type CompletionBackendName,
  type ServingQuantization,
  type LogLevelName,
  type SettingId,
} from './settingsSchema';

/** Settings whose change needs a sidecar restart, because they travel in its initialization options. */
export const RESTART_SETTINGS: readonly SettingId[] = ['repotune.pythonPath', 'repotune.completions.backend'];

export interface RepoTuneConfig {
  /** Empty string means "not set": the sidecar picks its default. */
  pythonPath: string | undefined;
  modelDirectory: string | undefined;
  maxSteps: number;
  completionsEnabled: boolean;
  completionsBackend: CompletionBackendName;
  evaluationGate: boolean;
  servingQuantization: ServingQuantization;
  confirmBeforeTraining: boolean;
  logLevel: LogLevelName;
}

function read<T>(id: SettingId): T {
  const key = id.slice(SETTINGS_SECTION.length + 1);
  const fallback = SETTINGS[id].default as unknown as T;
  return vscode.workspace.getConfiguration(SETTINGS_SECTION).get<T>(key, fallback);
}

function nonEmpty(value: string): string | undefined {
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

export function readConfig(): RepoTuneConfig {
  const rawSteps = Number(read<number>('repotune.training.maxSteps'));
  const maxSteps = Number.isFinite(rawSteps)
    ? Math.min(MAX_STEPS_MAX, Math.max(MAX_STEPS_MIN, Math.round(rawSteps)))
    : (SETTINGS['repotune.training.maxSteps'].default as number);
  const level = read<string>('repotune.logLevel');
  const backend = read<string>('repotune.completions.backend');
  const quantization = read<string>('repotune.serving.quantization');
  return {
    pythonPath: nonEmpty(String(read<string>('repotune.pythonPath') ?? '')),
    modelDirectory: nonEmpty(String(read<string>('repotune.modelDirectory') ?? '')),
    maxSteps,
    completionsEnabled: read<boolean>('repotune.completions.enabled') !== false,
    completionsBackend: (COMPLETION_BACKENDS as readonly string[]).includes(backend) ? (backend as CompletionBackendName) : 'auto',
    evaluationGate: read<boolean>('repotune.evaluation.gate') !== false,
    servingQuantization: isServingQuantization(quantization) ? quantization : 'auto',
    confirmBeforeTraining: read<boolean>('repotune.confirmBeforeTraining') !== false,
    logLevel: (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevelName) : 'info',
  };
}

export function affectsAny(event: vscode.ConfigurationChangeEvent, ids: readonly SettingId[]): boolean {
  return ids.some((id) => event.affectsConfiguration(id));
}
