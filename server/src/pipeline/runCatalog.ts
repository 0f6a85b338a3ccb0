/**
 * The workspace's fine-tuning runs as a user manages them: list (with why a run is or is not serving), activate,
 * roll back to the previously active run, delete. Reads only what the pipeline already writes into each run folder
 * (adapter/repotune-adapter.json, onnx/model.onnx, evaluation.json), so runs from before this module list too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ListRunsResult, RunSummary } from '../protocol';
import { SERVED_FILE, readActivePointer, readActiveRun, workspaceDir, writeActiveRun, type ActiveRun } from './runStore';
import { EVALUATION_FILE } from './activation';

const ADAPTER_META = path.join('adapter', 'repotune-adapter.json');
const ONNX_MODEL = path.join('onnx', 'model.onnx');
/** Run ids are the run's ISO start time with ':' and '.' made file-safe (runStore.newRunDir). */
const RUN_ID_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/;

/** A request the user can fix (unknown run, active run deleted…): the sidecar answers it as a plain message. */
export class RunCatalogError extends Error {}

function runsDir(storageDir: string, workspace: string): string {
  return path.join(workspaceDir(storageDir, workspace), 'runs');
}

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function runIdToIso(runId: string): string {
  const m = RUN_ID_TIME.exec(runId);
  return m ? `${m[1]}:${m[2]}:${m[3]}.${m[4]}Z` : runId;
}

function summarise(runDir: string, runId: string, active: ActiveRun | undefined): RunSummary {
  const meta = readJson(path.join(runDir, ADAPTER_META));
  const report = readJson(path.join(runDir, EVALUATION_FILE));
  const activatable = fs.existsSync(path.join(runDir, ONNX_MODEL));
  const isActive = active?.runId === runId;
  const evaluation =
    report?.gate && typeof report.gate.reason === 'string'
      ? { gatePassed: report.gate.activate === true, reason: report.gate.reason, reportPath: path.join(runDir, EVALUATION_FILE) }
      : undefined;
  let inactiveReason: string | undefined;
  if (!isActive) {
    if (!meta) inactiveReason = 'No adapter saved: training is still running, or it stopped before saving one.';
    else if (!activatable) inactiveReason = 'Cancelled before export: the adapter is saved but was never exported for serving.';
    else if (evaluation && !evaluation.gatePassed) inactiveReason = `The evaluation gate held it back: ${evaluation.reason}`;
    else inactiveReason = 'Another run was activated after it.';
  }
  return {
    runId,
    createdAt: runIdToIso(runId),
    ...(typeof meta?.steps === 'number' ? { steps: meta.steps } : {}),
    ...(typeof meta?.final_loss === 'number' ? { finalLoss: meta.final_loss } : {}),
    ...(typeof meta?.base_model === 'string' ? { modelDir: meta.base_model } : {}),
    ...(evaluation ? { evaluation } : {}),
    active: isActive,
    activatable,
    ...(inactiveReason ? { inactiveReason } : {}),
  };
}

/** Newest first. */
export function listRuns(storageDir: string, workspace: string): ListRunsResult {
  const dir = runsDir(storageDir, workspace);
  const ids = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
  const active = readActiveRun(storageDir, workspace);
  const runs = ids.sort().reverse().map((id) => summarise(path.join(dir, id), id, active));
  const rollbackTo = rollbackTarget(storageDir, workspace);
  return { runs, ...(rollbackTo ? { rollbackTo } : {}) };
}

function activeRunFor(storageDir: string, workspace: string, runId: string): ActiveRun {
  const runDir = path.join(runsDir(storageDir, workspace), runId);
  // The id comes from the client: it must name a folder directly under runs/, nothing else.
  if (path.basename(runId) !== runId || !fs.existsSync(runDir)) throw new RunCatalogError(`There is no run "${runId}" in this workspace.`);
  const summary = summarise(runDir, runId, undefined);
  if (!summary.activatable) throw new RunCatalogError(`Run ${runId} cannot be activated. ${summary.inactiveReason ?? ''}`.trim());
  if (!summary.modelDir || !fs.existsSync(summary.modelDir)) {
    throw new RunCatalogError(`Run ${runId} was trained on ${summary.modelDir ?? 'an unknown model'}, which is no longer on disk.`);
  }
  // The export it served before (the best checkpoint may have won over the final one), else the final export.
  const served = readJson(path.join(runDir, SERVED_FILE));
  const reuse = typeof served?.onnxDir === 'string' && typeof served?.adapterDir === 'string' && fs.existsSync(path.join(served.onnxDir, 'model.onnx'));
  return {
    runId,
    runDir,
    modelDir: summary.modelDir,
    adapterDir: reuse ? served.adapterDir : path.join(runDir, 'adapter'),
    onnxDir: reuse ? served.onnxDir : path.join(runDir, 'onnx'),
    activatedAt: new Date().toISOString(),
  };
}

/** Makes `runId` the served run (the gate is the user's to override here: they chose it explicitly). */
export function activateRun(storageDir: string, workspace: string, runId: string): ActiveRun {
  const run = activeRunFor(storageDir, workspace, runId);
  writeActiveRun(storageDir, workspace, run);
  return run;
}

/** The newest run of the history that can still be activated. */
function rollbackTarget(storageDir: string, workspace: string): string | undefined {
  const history = readActivePointer(storageDir, workspace)?.history ?? [];
  const dir = runsDir(storageDir, workspace);
  return [...history].reverse().find((id) => fs.existsSync(path.join(dir, id, ONNX_MODEL)));
}

/** Returns to the previously active run; the history drops it and everything newer, so rollbacks step back. */
export function rollbackRun(storageDir: string, workspace: string): ActiveRun {
  const target = rollbackTarget(storageDir, workspace);
  if (!target) throw new RunCatalogError('There is no previously active adapter to roll back to.');
  const history = readActivePointer(storageDir, workspace)?.history ?? [];
  const run = { ...activeRunFor(storageDir, workspace, target), history: history.slice(0, history.lastIndexOf(target)) };
  writeActiveRun(storageDir, workspace, run);
  return run;
}

export function deleteRun(storageDir: string, workspace: string, runId: string): void {
  const runDir = path.join(runsDir(storageDir, workspace), runId);
  if (path.basename(runId) !== runId || !fs.existsSync(runDir)) throw new RunCatalogError(`There is no run "${runId}" in this workspace.`);
  if (readActivePointer(storageDir, workspace)?.runId === runId) {
    throw new RunCatalogError(`Run ${runId} is the active adapter: activate another run (or roll back) before deleting it.`);
  }
  fs.rmSync(runDir, { recursive: true, force: true });
}
