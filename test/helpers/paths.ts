/** Paths and the demo model shared by Node tests. The demo model is generated once per checkout and cached. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const TRAINER_DIR = path.join(REPO_ROOT, 'server', 'trainer');
export const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'test');

/** The Python of the project's environment (scripts/setup-python.mjs), overridable by REPOTUNE_PYTHON. */
export function pythonPath(): string {
  return process.env.REPOTUNE_PYTHON ?? path.join(REPO_ROOT, '.venv', 'bin', 'python');
}

/** Generates (once) and returns the offline demo model directory. */
export function ensureDemoModel(): string {
  const dir = path.join(CACHE_DIR, 'demo-model');
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  execFileSync(pythonPath(), ['-m', 'repotune_trainer.demo_model', '--out', dir], {
    cwd: TRAINER_DIR,
    env: { ...process.env, PYTHONPATH: TRAINER_DIR },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

const created: string[] = [];
// Temp dirs go when the test process ends; REPOTUNE_KEEP_TEST_DIRS=1 keeps them for a post-mortem.
process.on('exit', () => {
  if (process.env.REPOTUNE_KEEP_TEST_DIRS) return;
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const dir = fs.mkdtempSync(path.join(CACHE_DIR, `${prefix}-`));
  created.push(dir);
  return dir;
}
