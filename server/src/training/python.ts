/**
 * Finds the Python that runs the trainer. Order: the user's setting, REPOTUNE_PYTHON, the environment RepoTune
 * created (storage venv for the extension, .venv of a source checkout), then python3 on PATH. The first that
 * exists wins; whether torch is importable there is checked by the worker's `env` request, which names the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function venvPython(venvDir: string): string {
  return process.platform === 'win32' ? path.join(venvDir, 'Scripts', 'python.exe') : path.join(venvDir, 'bin', 'python');
}

export function resolvePython(opts: { configured?: string; storageDir?: string; sourceRoot?: string }): string {
  // An explicit setting wins even when the file is missing: the spawn error then names the path the user chose.
  if (opts.configured) return opts.configured;
  const candidates = [
    process.env.REPOTUNE_PYTHON,
    opts.storageDir ? venvPython(path.join(opts.storageDir, 'venv')) : undefined,
    opts.sourceRoot ? venvPython(path.join(opts.sourceRoot, '.venv')) : undefined,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  for (const p of candidates) if (fs.existsSync(p)) return p;
  // Nothing set up: python3 from PATH; the worker's `env` check says what is missing there (torch, …).
  return 'python3';
}
