/**
 * "RepoTune: Check environment" turns the trainer's `env` answer (TrainerEnvironment) into one verdict and the
 * facts behind it. Pure (no 'vscode'): unit-tested; the command (environmentCommands.ts) only shows it.
 */
import type { TrainerEnvironment } from '../server/src/protocol';
import { MODEL_PRESETS, type ModelPreset } from './modelPresets';

export type VerdictKind = 'gpu' | 'cpu' | 'python-missing' | 'packages-missing';

export interface EnvironmentVerdict {
  kind: VerdictKind;
  /** One line, what to do. */
  headline: string;
  /** The facts it rests on, one per line (Python, torch, CUDA/GPU, packages, the worker's problems). */
  facts: string[];
  /** The biggest preset whose LoRA training fits the GPU's memory (GPU verdict only). */
  largestPreset?: ModelPreset;
}

export const MIN_PYTHON: readonly [number, number] = [3, 10];
const GIB = 2 ** 30;

function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

function pythonTooOld(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1]);
}

/** Presets' VRAM figures are rough needs in GB; compared with the card's total, the biggest that fits. */
export function largestPresetFitting(totalBytes: number, presets: readonly ModelPreset[] = MODEL_PRESETS): ModelPreset | undefined {
  return presets.filter((p) => p.trainVramGb * GIB <= totalBytes).sort((a, b) => b.trainVramGb - a.trainVramGb)[0];
}

export function environmentVerdict(env: TrainerEnvironment): EnvironmentVerdict {
  const need = `Python ${MIN_PYTHON.join('.')}+`;
  const p = env.python;
  if (!p) {
    return {
      kind: 'python-missing',
      headline: `Python missing: install ${need} or set repotune.pythonPath`,
      facts: [`Python: ${env.pythonPath} cannot be started (${env.error ?? 'no answer'})`],
    };
  }
  const facts = [`Python ${p.version} (${p.executable})`, `torch ${p.torch ?? 'not installed'}`];
  facts.push(
    p.cuda && p.deviceName
      ? `CUDA: yes, ${p.deviceName}, ${gib(p.deviceMemTotal ?? 0)} total, ${gib(p.deviceMemFree ?? 0)} free`
      : 'CUDA: no',
  );
  const packages = Object.entries(p.packages);
  const missing = packages.filter(([, v]) => !v).map(([name]) => name);
  if (packages.length) facts.push(`packages: ${packages.map(([name, v]) => `${name} ${v ?? 'MISSING'}`).join(', ')}`);
  facts.push(...p.problems);
  if (pythonTooOld(p.version)) {
    return { kind: 'python-missing', headline: `Python missing: ${p.version} is too old, install ${need} or set repotune.pythonPath`, facts };
  }
  if (missing.length || !p.torch) {
    const names = missing.length ? missing.join(', ') : 'torch';
    return { kind: 'packages-missing', headline: `trainer packages missing (${names}): run Create trainer environment`, facts };
  }
  if (p.cuda && p.deviceMemTotal) {
    const largestPreset = largestPresetFitting(p.deviceMemTotal);
    const fits = largestPreset ? `fits up to ${largestPreset.label}` : 'too small for the presets: use the demo model';
    return { kind: 'gpu', headline: `GPU ready (${gib(p.deviceMemTotal)}: ${fits})`, facts, largestPreset };
  }
  return {
    kind: 'cpu',
    headline: 'CPU only: use the demo model or a remote GPU machine via VS Code Remote (the extension runs where the workspace is)',
    facts,
  };
}
