/**
 * Runs one setup process (python -m venv, pip install) with its output streamed line by line, in its own process
 * group so that cancelling kills pip and every build or download process it started, not only pip itself.
 */
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';

/** After SIGTERM, how long the process group gets before SIGKILL. */
export const KILL_GRACE_MS = 2_000;
/** Output lines kept for the error message (the cause is in pip's last lines). */
export const TAIL_LINES = 40;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last TAIL_LINES lines of stdout and stderr, interleaved as they came. */
  tail: string[];
  /** The process could not be started (ENOENT…). */
  spawnError?: NodeJS.ErrnoException;
  cancelled: boolean;
}

export function runLogged(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      opts.onLine?.(line);
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine);
    readline.createInterface({ input: child.stderr }).on('line', onLine);
    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // Children of pip (a build backend) may outlive it: the group is killed once more, quietly.
      if (opts.signal?.aborted && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
      }
      resolve({ code, signal, tail, spawnError, cancelled: opts.signal?.aborted === true });
    });
  });
}
