/**
 * The single source of the extension's settings and commands. `node scripts/sync-manifest.mjs` writes them into
 * package.json (contributes.configuration / contributes.commands); test/unit/settingsSchema.test.ts fails when the
 * two drift. This file must not import 'vscode': the generator and the unit test load it outside VS Code.
 */

import { SERVING_QUANTIZATIONS } from '../server/src/protocol';

/** Values of repotune.serving.quantization (server/src/pipeline/servingQuantization.ts resolves them). */
export { isServingQuantization, SERVING_QUANTIZATIONS, type ServingQuantization } from '../server/src/protocol';

export const SETTINGS_SECTION = 'repotune';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
/** Values of repotune.completions.backend (server/src/completion/engine/backend.ts resolves them). */
export const COMPLETION_BACKENDS = ['auto', 'onnx', 'torch'] as const;
export type CompletionBackendName = (typeof COMPLETION_BACKENDS)[number];
export type LogLevelName = (typeof LOG_LEVELS)[number];


/** Bounds of repotune.training.maxSteps; 0 (the default) lets the sidecar size the run to the repository. */
export const MAX_STEPS_DEFAULT = 0;
export const MAX_STEPS_MIN = 0;
export const MAX_STEPS_MAX = 100_000;

interface SettingSchema {
  type: 'string' | 'integer' | 'boolean';
  default: string | number | boolean;
  description: string;
  /** Machine-level paths must not come from a workspace a user merely opened (workspace trust). */
  scope?: 'application' | 'machine' | 'machine-overridable' | 'window' | 'resource';
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  order?: number;
}

/** Keys are full setting ids; values are JSON-schema fragments copied verbatim into package.json. */
export const SETTINGS = {
  'repotune.pythonPath': {
    type: 'string',
    default: '',
    scope: 'machine-overridable',
    description:
      'Python interpreter with torch, transformers and peft for fine-tuning. Empty = REPOTUNE_PYTHON, then a venv ' +
      "in RepoTune's storage, then python3 on PATH.",
    order: 0,
  },
  'repotune.modelDirectory': {
    type: 'string',
    default: '',
    scope: 'machine-overridable',
    description:
      'Local Hugging Face model directory to fine-tune (Qwen2.5-Coder family). Empty = the small offline demo model.',
    order: 1,
  },
  'repotune.training.maxSteps': {
    type: 'integer',
    default: MAX_STEPS_DEFAULT,
    minimum: MAX_STEPS_MIN,
    maximum: MAX_STEPS_MAX,
    description:
      'Number of optimizer steps of one fine-tuning run. 0 = automatic: about 4 passes over the repository\'s training examples (100–2,000 steps; 200 with the demo model).',
    order: 2,
  },
  'repotune.completions.enabled': {
    type: 'boolean',
    default: true,
    description: 'Show inline completions (ghost text) from the fine-tuned adapter.',
    order: 3,
  },
  'repotune.completions.backend': {
    type: 'string',
    default: 'auto',
    enum: COMPLETION_BACKENDS,
    description:
      "Engine serving completions. 'auto' = torch on a CUDA GPU when the trainer's Python sees one, else onnx. " +
      "'onnx' = onnxruntime on the CPU. 'torch' = the Python worker with torch (GPU if any, else CPU). Needs a server restart.",
    order: 7,
  },
  'repotune.evaluation.gate': {
    type: 'boolean',
    default: true,
    description:
      'Activate a new adapter only if it beats the base model on completions from your newest commits (beyond the 95% interval). Off = always activate.',
    order: 5,
  },
  'repotune.confirmBeforeTraining': {
    type: 'boolean',
    default: true,
    description:
      'Before training, show what the harvest kept and left out (files, secrets redacted) and wait for "Start training". Off = train right after the harvest.',
    order: 6,
  },
  'repotune.serving.quantization': {
    type: 'string',
    default: 'auto',
    enum: SERVING_QUANTIZATIONS,
    description:
      "Weights of the model a fine-tune exports for completions on the CPU (onnxruntime). 'auto' = int4 for models of 100M parameters or more " +
      "(it generates about 2.7× faster than fp32 and is a quarter of the size), fp32 for smaller ones, and fp32 when completions are served by torch. " +
      "'none' = fp32. The evaluation gate scores the export that is served. Applies to the next fine-tune.",
    order: 8,
  },
  'repotune.logLevel': {
    type: 'string',
    default: 'info',
    enum: LOG_LEVELS,
    description: "Detail of the 'RepoTune' output channel. 'trace' also logs every LSP message.",
    order: 4,
  },
} as const satisfies Record<string, SettingSchema>;

export type SettingId = keyof typeof SETTINGS;

export const COMMANDS = {
  fineTune: { command: 'repotune.fineTune', title: 'Fine-tune on workspace', category: 'RepoTune' },
  generateModelCode: { command: 'repotune.generateModelCode', title: 'Generate model code', category: 'RepoTune' },
  showLogs: { command: 'repotune.showLogs', title: 'Show logs', category: 'RepoTune' },
  restartServer: { command: 'repotune.restartServer', title: 'Restart server', category: 'RepoTune' },
  openDashboard: { command: 'repotune.openDashboard', title: 'Open dashboard', category: 'RepoTune' },
  chooseModel: { command: 'repotune.chooseModel', title: 'Choose model', category: 'RepoTune' },
  manageAdapters: { command: 'repotune.manageAdapters', title: 'Manage adapters', category: 'RepoTune' },
  toggleCompletions: { command: 'repotune.toggleCompletions', title: 'Pause/resume completions', category: 'RepoTune' },
  checkEnvironment: { command: 'repotune.checkEnvironment', title: 'Check environment', category: 'RepoTune' },
  setupEnvironment: { command: 'repotune.setupEnvironment', title: 'Create trainer environment', category: 'RepoTune' },
  getStarted: { command: 'repotune.getStarted', title: 'Get started', category: 'RepoTune' },
  exportAdapter: { command: 'repotune.exportAdapter', title: 'Export adapter', category: 'RepoTune' },
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS]['command'];

/** What package.json's contributes.configuration must be. */
export function configurationContribution(): { title: string; properties: Record<string, unknown> } {
  const properties: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(SETTINGS)) {
    properties[id] = { ...schema, ...('enum' in schema ? { enum: [...schema.enum] } : {}) };
  }
  return { title: 'RepoTune', properties };
}

/** What package.json's contributes.commands must be. */
export function commandsContribution(): Array<{ command: string; title: string; category: string }> {
  return Object.values(COMMANDS).map((c) => ({ ...c }));
}
