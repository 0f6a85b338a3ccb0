/**
 * Creates (or updates) the trainer's Python environment: a venv with the pinned server/trainer/requirements.txt.
 * The extension puts it at <globalStorage>/venv, where the sidecar's resolvePython looks (training/python.ts);
 * scripts/setup-python.mjs does the same for a source checkout's .venv and writes the same stamp file.
 *
 * Nothing half-made is ever used: a `.repotune-incomplete` marker is written before anything is installed and
 * removed only after pip succeeded; resolvePython skips a venv that has it, and the next run recreates it. A venv
 * this run created is removed again when the run fails or is cancelled.
 *
 * torch: PyPI's Linux x86-64 wheel is the CUDA build (~2.5 GB with the NVIDIA libraries). On Linux without an
 * NVIDIA driver the CPU build (~200 MB) is installed first from PyTorch's CPU index (REPOTUNE_TORCH_INDEX_URL
 * overrides it; an empty value means "from the normal index"); the pin then counts as satisfied (2.x.y+cpu == 2.x.y).
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INCOMPLETE_MARKER, venvPython } from '../training/python';

export { INCOMPLETE_MARKER };
import { runLogged } from './runLogged';
import { EnvSetupError, describeFailure } from './setupErrors';

export const MIN_PYTHON: readonly [number, number] = [3, 10];
export const STAMP_FILE = '.repotune-requirements.sha256';
export const CPU_TORCH_INDEX_URL = 'https://download.pytorch.org/whl/cpu';
/** Probing a candidate Python (`python3 -c …`) is instant; a hung one is skipped after this. */
const PROBE_TIMEOUT_MS = 15_000;
/** Where a Linux NVIDIA driver shows itself; without it the CUDA wheels are dead weight. */
const NVIDIA_DRIVER_FILE = '/proc/driver/nvidia/version';

export type TorchVariant = 'cpu' | 'default';

export interface CreateEnvOptions {
  venvDir: string;
  requirementsFile: string;
  /** Interpreters to build the venv with, first usable wins (default: REPOTUNE_BASE_PYTHON, python3, python). */
  basePythons?: string[];
  /** 'auto' (default): 'cpu' on Linux without an NVIDIA driver, else 'default' (PyPI's torch). */
  torch?: TorchVariant | 'auto';
  /** Extra `pip install` arguments (an offline wheel folder: ['--no-index', '--find-links', dir]). */
  pipArgs?: string[];
  signal?: AbortSignal;
  /** Every output line of venv and pip, for the log. */
  onLine?: (line: string) => void;
  /** One short line per stage, for a progress notification. */
  onStep?: (message: string) => void;
}

export interface CreateEnvResult {
  python: string;
  /** False when an existing complete venv was brought up to date. */
  created: boolean;
  torch: TorchVariant;
}

export function isCompleteVenv(venvDir: string): boolean {
  return fs.existsSync(venvPython(venvDir)) && !fs.existsSync(path.join(venvDir, INCOMPLETE_MARKER));
}

export function findBasePython(candidates: string[]): { python: string; version: string } | { problem: string } {
  const tooOld: string[] = [];
  for (const candidate of candidates) {
    const r = spawnSync(candidate, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
    if (r.status !== 0) continue;
    const version = r.stdout.trim();
    const [major, minor] = version.split('.').map(Number);
    if (major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1])) return { python: candidate, version };
    tooOld.push(`${candidate} is ${version}`);
  }
  const need = `Python ${MIN_PYTHON.join('.')} or newer`;
  return {
    problem: tooOld.length
      ? `Python is too old (${tooOld.join(', ')}): install ${need} or set REPOTUNE_BASE_PYTHON to one.`
      : `Python missing: install ${need} (with its venv module) or set repotune.pythonPath to an interpreter that has the trainer packages.`,
  };
}

export function defaultTorchVariant(): TorchVariant {
  return process.platform === 'linux' && !fs.existsSync(NVIDIA_DRIVER_FILE) ? 'cpu' : 'default';
}

/** The `torch==X` line of the requirements, if they pin torch. */
export function pinnedTorch(requirementsText: string): string | undefined {
  return requirementsText.split('\n').map((l) => l.replace(/#.*/, '').trim()).find((l) => /^torch\s*==/.test(l))?.replace(/\s+/g, '');
}

export async function createTrainerEnv(opts: CreateEnvOptions): Promise<CreateEnvResult> {
  const step = (m: string) => opts.onStep?.(m);
  if (!fs.existsSync(opts.requirementsFile)) throw new EnvSetupError('internal', `${opts.requirementsFile} is missing: reinstall the extension.`);
  const requirements = fs.readFileSync(opts.requirementsFile, 'utf8');
  const python = venvPython(opts.venvDir);
  const marker = path.join(opts.venvDir, INCOMPLETE_MARKER);
  const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONUNBUFFERED: '1' };
  const run = (command: string, args: string[]) => runLogged(command, args, { env, signal: opts.signal, onLine: opts.onLine });

  const reuse = isCompleteVenv(opts.venvDir);
  if (!reuse) {
    const base = findBasePython(opts.basePythons ?? [process.env.REPOTUNE_BASE_PYTHON, 'python3', 'python'].filter((p): p is string => !!p));
    if ('problem' in base) throw new EnvSetupError('python_missing', base.problem);
    // A half-made venv from an earlier failed run may have a broken pip: start over. The marker goes in first
    // (venv accepts an existing folder), so there is no moment when a python without the packages looks complete.
    fs.rmSync(opts.venvDir, { recursive: true, force: true });
    fs.mkdirSync(opts.venvDir, { recursive: true });
    fs.writeFileSync(marker, `setup started ${new Date().toISOString()}\n`);
    step(`creating a virtual environment with Python ${base.version}…`);
    const r = await run(base.python, ['-m', 'venv', opts.venvDir]);
    if (r.code !== 0 || r.cancelled) {
      fs.rmSync(opts.venvDir, { recursive: true, force: true });
      throw describeFailure(r, 'venv', opts.venvDir);
    }
  }
  let succeeded = false;
  try {
    fs.writeFileSync(marker, `pip install of ${opts.requirementsFile} started ${new Date().toISOString()}\n`);
    const torch = opts.torch && opts.torch !== 'auto' ? opts.torch : defaultTorchVariant();
    const torchPin = pinnedTorch(requirements);
    const torchIndex = process.env.REPOTUNE_TORCH_INDEX_URL ?? CPU_TORCH_INDEX_URL;
    const pip = ['-m', 'pip', 'install', '--progress-bar', 'off', ...(opts.pipArgs ?? [])];
    if (torch === 'cpu' && torchPin && torchIndex) {
      step(`installing ${torchPin} (CPU build)…`);
      const r = await run(python, [...pip, torchPin, '--index-url', torchIndex]);
      if (r.code !== 0 || r.cancelled) throw describeFailure(r, 'pip', opts.venvDir);
    }
    step('installing the trainer packages (torch, transformers, peft, onnx…)…');
    const r = await run(python, [...pip, '-r', opts.requirementsFile]);
    if (r.code !== 0 || r.cancelled) throw describeFailure(r, 'pip', opts.venvDir);
    fs.writeFileSync(path.join(opts.venvDir, STAMP_FILE), crypto.createHash('sha256').update(requirements).digest('hex') + '\n');
    fs.rmSync(marker, { force: true });
    succeeded = true;
    return { python, created: !reuse, torch };
  } finally {
    // A venv this run created is removed on any failure; a reused one keeps its marker and is rebuilt next time.
    if (!succeeded && !reuse) fs.rmSync(opts.venvDir, { recursive: true, force: true });
  }
}
