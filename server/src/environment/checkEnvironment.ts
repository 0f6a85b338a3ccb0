/**
 * "Check environment" on the sidecar's side: asks the trainer worker (the Python the sidecar really uses) for its
 * `env` answer and turns it into the protocol's TrainerEnvironment. A Python that cannot be started at all is an
 * answer too (`error`), not a failure: that is exactly what the user runs the check to find out.
 */
import type { TrainerEnvironment } from '../protocol';

/** The worker's `env` result (snake_case, docs/architecture.md). */
interface WorkerEnv {
  python: string;
  executable?: string;
  torch: string | null;
  cuda: boolean;
  device_name: string | null;
  device_mem_total: number | null;
  device_mem_free: number | null;
  packages?: Record<string, string | null>;
  problems: string[];
}

export interface EnvRequester {
  request<T>(method: string, params?: object): Promise<T>;
}

export async function checkTrainerEnvironment(trainer: EnvRequester, pythonPath: string): Promise<TrainerEnvironment> {
  let env: WorkerEnv;
  try {
    env = await trainer.request<WorkerEnv>('env', {});
  } catch (err) {
    return { pythonPath, error: (err as Error).message };
  }
  return {
    pythonPath,
    python: {
      version: env.python,
      executable: env.executable ?? pythonPath,
      torch: env.torch,
      cuda: env.cuda,
      deviceName: env.device_name,
      deviceMemTotal: env.device_mem_total,
      deviceMemFree: env.device_mem_free,
      packages: env.packages ?? {},
      problems: env.problems ?? [],
    },
  };
}
