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
  const candidates = [
    opts.configured,
    process.env.REPOTUNE_PYTHON,
    opts.storageDir ? venvPython(path.join(opts.storageDir, 'venv')) : undefined,
    opts.sourceRoot ? venvPython(path.join(opts.sourceRoot, '.venv')) : undefined,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  for (const p of candidates) if (fs.existsSync(p)) return p;
  // Let the spawn fail with ENOENT and the supervisor's message that says how to install Python.
  return candidates[0] ?? 'python3';
}
