/**
 * How "Manage adapters" shows the workspace's runs: one line each, newest first, the active one marked, and for every
 * other run the reason it is not serving. Pure (no 'vscode'), so it is unit-tested in plain Node.
 */
import type { ExportFormat, ExportQuantization, RunSummary } from '../server/src/protocol';

export interface AdapterRow {
  label: string;
  description: string;
  detail: string;
}

/** Actions offered for one run; `undefined` entries are left out of the menu. */
export type AdapterAction = 'activate' | 'delete' | 'openEvaluation' | 'export';

/** "2026-11-23 17:16:08" from the run's ISO start time, in UTC so every machine shows the same label. */
export function runDateLabel(createdAt: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(createdAt);
  return m ? `${m[1]} ${m[2]}` : createdAt;
}

/** "2026-11-23 17:16:08" from a run id ("2026-11-23T17-16-08-793Z": the start time made file-safe). */
export function runIdLabel(runId: string): string {
  return runDateLabel(runId.replace(/^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/, '$1:$2:$3.$4Z'));
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
  // A saved adapter (its metadata gives the steps) can be exported, served or not.
  if (run.steps !== undefined) actions.push('export');
  if (!run.active) actions.push('delete');
  return actions;
}

export const ACTION_LABELS: Record<AdapterAction, string> = {
  activate: '$(play) Activate this adapter',
  openEvaluation: '$(graph) Open its evaluation report',
  delete: '$(trash) Delete this run',
  export: '$(export) Export this adapter…',
};

export interface ExportChoice {
  format: ExportFormat;
  quantize: ExportQuantization;
  label: string;
  detail: string;
  /** Default name of the folder the export goes into. */
  folderSuffix: string;
  /** How to use the export, shown after it succeeds; `{dir}` stands for the folder written. */
  usage?: string;
}

const GGUF_USAGE = 'Serve it with llama.cpp: llama-server -m {dir}/model.gguf (its /infill endpoint does fill-in-the-middle).';

/** The formats "Export adapter" offers, in menu order. */
export const EXPORT_CHOICES: readonly ExportChoice[] = [
  { format: 'peft', quantize: null, label: 'PEFT adapter folder', detail: 'adapter_config.json + adapter_model.safetensors, as trained (small; needs the base model to use)', folderSuffix: 'peft' },
  { format: 'merged', quantize: null, label: 'Merged model', detail: 'base + adapter merged into one Hugging Face model folder (loads without PEFT)', folderSuffix: 'merged' },
  { format: 'onnx', quantize: null, label: 'ONNX (fp32)', detail: 'the serving export: model.onnx + repotune-onnx.json, full precision', folderSuffix: 'onnx' },
  { format: 'onnx', quantize: 'int8', label: 'ONNX (int8 weights)', detail: 'about a quarter of the fp32 size; onnxruntime MatMulNBits', folderSuffix: 'onnx-int8' },
  { format: 'onnx', quantize: 'int4', label: 'ONNX (int4 weights)', detail: 'about an eighth of the fp32 size; onnxruntime MatMulNBits', folderSuffix: 'onnx-int4' },
  { format: 'gguf', quantize: null, label: 'GGUF for llama.cpp (f16)', detail: 'one model.gguf, base + adapter merged: llama-server, Ollama, LM Studio, llama.vscode', folderSuffix: 'gguf', usage: GGUF_USAGE },
  { format: 'gguf', quantize: 'int8', label: 'GGUF for llama.cpp (Q8_0)', detail: 'about half the f16 size', folderSuffix: 'gguf-q8_0', usage: GGUF_USAGE },
  { format: 'gguf', quantize: 'int4', label: 'GGUF for llama.cpp (Q4_0)', detail: 'about a quarter of the f16 size', folderSuffix: 'gguf-q4_0', usage: GGUF_USAGE },
];

/** The choice's usage line for the folder written, or '' when it has none. */
export function exportUsage(choice: ExportChoice, dir: string): string {
  return choice.usage ? choice.usage.replaceAll('{dir}', dir) : '';
}

/** "repotune-2026-11-23T17-16-08-peft": a folder name that says which run and which format it holds. */
export function exportFolderName(runId: string, choice: ExportChoice): string {
  return `repotune-${runId.replace(/-\d{3}Z$/, '')}-${choice.folderSuffix}`;
}

/**
 * Whether an export may offer to replace what `target` holds: never for a workspace folder, a folder in one or one
 * that holds one, the home folder or the file system root — a slip of the folder dialog must not cost the user
 * their work. (Paths as VS Code gives them: absolute, either separator.)
 */
export function mayReplaceFolder(target: string, workspaceFolders: readonly string[], home: string): boolean {
  const norm = (p: string) => p.replace(/\\/g, '/').replace(/\/+$/, '') || '/';
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
  const t = norm(target);
  if (t === '/' || /^[A-Za-z]:$/.test(t) || t === norm(home)) return false;
  return !workspaceFolders.map(norm).some((w) => within(w, t) || within(t, w));
}
