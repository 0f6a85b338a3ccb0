/**
 * Finds the Python that runs the trainer. Order: the user's setting, REPOTUNE_PYTHON, the environment RepoTune
 * created (storage venv for the extension, .venv of a source checkout), then python3 on PATH. The first that
 * exists wins; whether torch is importable there is checked by the worker's `env` request, which names the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Written into a venv while it is being set up (environment/createTrainerEnv.ts): such a venv is never used. */
export const INCOMPLETE_MARKER = '.repotune-incomplete';

export function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? path.join(venvDir, 'Scripts', 'python.exe') : path.join(venvDir, 'bin', 'python');
}

export function resolvePython(opts: { configured?: string; storageDir?: string; sourceRoot?: string }): string {
  // An explicit setting wins even when the file is missing: the spawn error then names the path the user chose.
  if (opts.configured) return opts.configured;
  const fromEnv = process.env.REPOTUNE_PYTHON;
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  const venvs = [opts.storageDir ? path.join(opts.storageDir, 'venv') : undefined, opts.sourceRoot ? path.join(opts.sourceRoot, '.venv') : undefined];
  for (const dir of venvs) {
    // A venv whose setup failed or is still running would half-work: skip it (the next setup rebuilds it).
    if (dir && fs.existsSync(venvPython(dir)) && !fs.existsSync(path.join(dir, INCOMPLETE_MARKER))) return venvPython(dir);
  }
  // Nothing set up: python3 from PATH; the worker's `env` check says what is missing there (torch, …).
  return 'python3';
}
