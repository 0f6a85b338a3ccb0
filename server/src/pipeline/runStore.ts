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
}

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
  const file = path.join(workspaceDir(storageDir, workspace), 'active.json');
  try {
    const run = JSON.parse(fs.readFileSync(file, 'utf8')) as ActiveRun;
    return fs.existsSync(path.join(run.onnxDir, 'model.onnx')) ? run : undefined;
  } catch {
    return undefined;
  }
}

export function writeActiveRun(storageDir: string, workspace: string, run: ActiveRun): void {
  const dir = workspaceDir(storageDir, workspace);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.active-${process.pid}.json`);
  fs.writeFileSync(tmp, JSON.stringify(run, null, 2));
  fs.renameSync(tmp, path.join(dir, 'active.json'));
}
