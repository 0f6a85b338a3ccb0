/**
 * Per-workspace storage of fine-tuning runs: each run has its own folder (manifest, shards, adapter, ONNX export),
 * and active.json names the run whose adapter is served. The pointer is replaced atomically (temp + rename), so a
 * crash never leaves a workspace pointing at half a run.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ActiveRun {
  runId: string;
  runDir: string;
  modelDir: string;
  adapterDir: string;
  onnxDir: string;
  activatedAt: string;
  /** Runs that were active before this one, oldest first (for rollback); absent in pointers written before it. */
  history?: string[];
}

/** Written into a run folder when the run is activated: the adapter and export it served. */
export const SERVED_FILE = 'served.json';

/** Rollback history kept in active.json: enough to step back a few times, small enough to stay a tiny file. */
export const MAX_ACTIVE_HISTORY = 10;

export function workspaceDir(storageDir: string, workspace: string): string {
  const abs = path.resolve(workspace);
  const hash = crypto.createHash('sha256').update(abs).digest('hex').slice(0, 12);
  return path.join(storageDir, 'workspaces', `${path.basename(abs).replace(/[^\w.-]/g, '_')}-${hash}`);
}

export function newRunDir(storageDir: string, workspace: string): { runId: string; runDir: string } {
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(workspaceDir(storageDir, workspace), 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  return { runId, runDir };
}

export function readActiveRun(storageDir: string, workspace: string): ActiveRun | undefined {
  const run = readActivePointer(storageDir, workspace);
  return run && fs.existsSync(path.join(run.onnxDir, 'model.onnx')) ? run : undefined;
}

/** active.json as written, whether or not its export still exists (the rollback history outlives a deleted export). */
export function readActivePointer(storageDir: string, workspace: string): ActiveRun | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(workspaceDir(storageDir, workspace), 'active.json'), 'utf8')) as ActiveRun;
  } catch {
    return undefined;
  }
}

/**
 * Points the workspace at `run`. The run active until now goes onto the rollback history, unless the caller passes
 * its own history (a rollback does: it pops the entry it returns to).
 */
export function writeActiveRun(storageDir: string, workspace: string, run: ActiveRun): void {
  const dir = workspaceDir(storageDir, workspace);
  if (!run.history) {
    const current = readActivePointer(storageDir, workspace);
    const previous = current ? [...(current.history ?? []), current.runId] : [];
    const history = previous.filter((id) => id !== run.runId).slice(-MAX_ACTIVE_HISTORY);
    if (history.length) run = { ...run, history };
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.active-${process.pid}.json`);
  fs.writeFileSync(tmp, JSON.stringify(run, null, 2));
  fs.renameSync(tmp, path.join(dir, 'active.json'));
  // Which export of the run served (final or best checkpoint), so re-activating it later serves the same one.
  try {
    fs.writeFileSync(path.join(run.runDir, SERVED_FILE), JSON.stringify({ adapterDir: run.adapterDir, onnxDir: run.onnxDir }, null, 2));
  } catch {
    // A run folder that is gone (tests, manual cleanup) only loses that hint.
  }
}
