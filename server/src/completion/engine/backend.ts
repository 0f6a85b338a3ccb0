/**
 * Which engine serves completions (setting repotune.completions.backend, read at sidecar start):
 * - "onnx": OrtEngine, onnxruntime-node on the CPU, on a thread of the sidecar's process (ortThread.ts; the default).
 * - "torch": TorchEngine, the Python serving worker (torch; CUDA when present, else CPU).
 * - "auto": torch when the trainer's Python sees a CUDA GPU, else onnx. Machines without an NVIDIA driver decide at
 *   once, without starting Python, so the CPU path starts as fast as before; with one, the trainer worker's `env`
 *   answer (torch.cuda.is_available) decides. If the torch engine then fails to load, auto falls back to onnx.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkTrainerEnvironment, type EnvRequester } from '../../environment/checkEnvironment';
import type { EngineLoader } from './engine';
import { OrtThreadEngine } from './ortThread';
import { TorchEngine, type TorchEngineOptions } from './torchEngine';

export const COMPLETION_BACKENDS = ['auto', 'onnx', 'torch'] as const;
export type CompletionBackend = (typeof COMPLETION_BACKENDS)[number];

/** Files an NVIDIA driver installs; without one, CUDA is impossible and Python need not be asked. */
const NVIDIA_DRIVER_MARKERS: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['/proc/driver/nvidia/version'],
  win32: [path.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvidia-smi.exe')],
};

export function hasNvidiaDriver(platform: NodeJS.Platform = process.platform): boolean {
  return (NVIDIA_DRIVER_MARKERS[platform] ?? []).some((file) => fs.existsSync(file));
}

export function parseBackend(value: unknown): CompletionBackend {
  return (COMPLETION_BACKENDS as readonly unknown[]).includes(value) ? (value as CompletionBackend) : 'auto';
}

export interface BackendProbe {
  /** Whether an NVIDIA driver is installed (cheap; default: hasNvidiaDriver()). */
  readonly nvidiaDriver?: boolean;
  /** The trainer worker, asked `env` when a driver is there. */
  readonly trainer: EnvRequester;
  readonly pythonPath: string;
}

/** The engine "auto" (or an explicit choice) resolves to, and why, for the log. */
export async function resolveBackend(setting: CompletionBackend, probe: BackendProbe): Promise<{ backend: 'onnx' | 'torch'; reason: string }> {
  if (setting !== 'auto') return { backend: setting, reason: `repotune.completions.backend is "${setting}"` };
  if (!(probe.nvidiaDriver ?? hasNvidiaDriver())) return { backend: 'onnx', reason: 'no NVIDIA driver on this machine' };
  const env = await checkTrainerEnvironment(probe.trainer, probe.pythonPath);
  if (env.python?.cuda) return { backend: 'torch', reason: `CUDA GPU ${env.python.deviceName ?? ''} seen by ${probe.pythonPath}`.trim() };
  return { backend: 'onnx', reason: env.error ? `Python check failed (${env.error})` : `torch in ${probe.pythonPath} sees no CUDA GPU` };
}

export interface LoaderOptions extends Pick<TorchEngineOptions, 'python' | 'trainerDir' | 'log'> {
  readonly backend: 'onnx' | 'torch';
  /** Falls back to onnx when the torch engine cannot load (what "auto" does). */
  readonly fallbackToOnnx: boolean;
}

/** The CompletionService's engine loader for a resolved backend. */
export function engineLoader(opts: LoaderOptions): EngineLoader {
  const onnx: EngineLoader = (m) => OrtThreadEngine.load(m.onnxDir);
  if (opts.backend === 'onnx') return onnx;
  return async (m) => {
    try {
      // "auto" chose torch because of CUDA: insist on it (a CPU torch run is slower than onnx on the CPU).
      return await TorchEngine.load({ ...opts, modelDir: m.modelDir, adapterDir: m.adapterDir, device: opts.fallbackToOnnx ? 'cuda' : 'auto' });
    } catch (err) {
      if (!opts.fallbackToOnnx) throw err;
      opts.log('warning', `The torch completion engine could not load (${(err as Error).message}); serving with onnxruntime on the CPU.`);
      return onnx(m);
    }
  };
}
