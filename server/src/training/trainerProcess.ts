/**
 * Supervises the Python worker (server/trainer, `python -m repotune_trainer.rpc`): JSON-RPC 2.0 over its
 * stdin/stdout, one JSON object per line (docs/architecture.md). vscode-python's process handling is the model:
 * every request has a timeout, the worker runs in its own process group and the whole group is killed, stderr goes
 * to the log, PYTHONUNBUFFERED=1, and restarts after crashes are capped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';

/** Quick requests (ping, env, cancel, shutdown). */
export const QUICK_REQUEST_TIMEOUT_MS = 30_000;
/** Generating the demo model imports torch and trains a tokenizer. */
export const DEMO_MODEL_TIMEOUT_MS = 5 * 60_000;
/** Training may run for hours on a real model; the limit only catches a wedged worker that stopped reporting. */
export const TRAIN_SILENCE_TIMEOUT_MS = 30 * 60_000;
export const EXPORT_TIMEOUT_MS = 30 * 60_000;
/** After `shutdown`, how long the worker gets to exit before its process group is killed. */
export const SHUTDOWN_GRACE_MS = 3_000;
/** Crashes tolerated before the supervisor stops restarting the worker. */
export const MAX_RESTARTS = 3;

export interface TrainerOptions {
  python: string;
  trainerDir: string;
  log: (level: 'debug' | 'info' | 'warning' | 'error', message: string) => void;
  /** Python module run as the worker; the completion-serving worker (TorchEngine) reuses this supervisor. */
  module?: string;
  /** Prefix of the worker's lines in the log. */
  label?: string;
}

export const TRAINER_MODULE = 'repotune_trainer.rpc';

export class TrainerError extends Error {
  constructor(message: string, readonly kind: string) {
    super(message);
  }
}

type Pending = {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
  method: string;
};

export class TrainerProcess {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<(params: any) => void>>();
  private restarts = 0;

  constructor(private readonly opts: TrainerOptions) {}

  private get label(): string {
    return this.opts.label ?? 'trainer';
  }

  /** Subscribes to a worker notification (`progress`, `log`). Returns an unsubscribe function. */
  on(method: string, fn: (params: any) => void): () => void {
    const set = this.listeners.get(method) ?? new Set();
    set.add(fn);
    this.listeners.set(method, set);
    return () => set.delete(fn);
  }

  /**
   * Sends a request and resolves with its result. `timeoutMs` is a silence limit: any notification from the
   * worker (progress, log) re-arms it, so a long training run is not cut off while it keeps reporting.
   */
  request<T = any>(method: string, params: object = {}, timeoutMs = QUICK_REQUEST_TIMEOUT_MS): Promise<T> {
    let child: ChildProcess;
    try {
      child = this.ensureStarted();
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), timeoutMs);
      this.pending.set(id, { resolve, reject, timer, timeoutMs, method });
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Process id of the running worker (its process group's id), for logs and tests. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Asks the worker to exit, then kills its process group if it does not. */
  async dispose(): Promise<void> {
    const child = this.child;
    if (!child) return;
    try {
      await Promise.race([this.request('shutdown', {}, SHUTDOWN_GRACE_MS), delay(SHUTDOWN_GRACE_MS)]);
    } catch {
      // The worker may already be gone; the kill below is what matters.
    } finally {
      this.killGroup(child);
    }
  }

  private ensureStarted(): ChildProcess {
    if (this.child) return this.child;
    if (this.restarts > MAX_RESTARTS) {
      throw new TrainerError(`The Python worker crashed ${this.restarts} times; not restarting it. See the log.`, 'crashed');
    }
    const child = spawn(this.opts.python, ['-u', '-m', this.opts.module ?? TRAINER_MODULE], {
      cwd: this.opts.trainerDir,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONPATH: this.opts.trainerDir, TOKENIZERS_PARALLELISM: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group, so that killing it also kills anything torch or a DataLoader started.
      detached: true,
    });
    this.child = child;
    // A worker that died (or never started) closes its stdin; the exit/error handlers report that, not EPIPE.
    child.stdin!.on('error', () => undefined);
    child.on('error', (err) => this.onExit(child, pythonSpawnMessage(this.opts.python, err)));
    child.on('exit', (code, signal) => this.onExit(child, `The Python worker exited (code ${code}, signal ${signal}).`));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    readline.createInterface({ input: child.stderr! }).on('line', (line) => this.opts.log('debug', `[${this.label}] ${line}`));
    return child;
  }

  private onLine(line: string): void {
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      this.opts.log('warning', `[${this.label}] non-protocol output: ${line}`);
      return;
    }
    if (msg.id === undefined || msg.id === null) {
      this.rearmTimers();
      if (msg.method === 'log') this.opts.log(msg.params?.level ?? 'info', `[${this.label}] ${msg.params?.message}`);
      for (const fn of this.listeners.get(msg.method) ?? []) fn(msg.params);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new TrainerError(msg.error.message, msg.error.data?.kind ?? 'internal'));
    else p.resolve(msg.result);
  }

  private rearmTimers(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.timer = setTimeout(() => this.expire(id), p.timeoutMs);
    }
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new TrainerError(`The Python worker did not answer "${p.method}" within ${p.timeoutMs / 1000} s.`, 'timeout'));
    // A worker that stopped answering is not trusted with the next request.
    if (this.child) this.killGroup(this.child);
  }

  private onExit(child: ChildProcess, message: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (this.pending.size > 0) {
      this.restarts++;
      this.opts.log('error', message);
    }
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TrainerError(message, 'crashed'));
    }
    this.pending.clear();
  }

  private killGroup(child: ChildProcess): void {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
}

function pythonSpawnMessage(python: string, err: Error): string {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
    ? `Python was not found at "${python}". Install Python 3.10+ and run the RepoTune Python setup (npm run setup:python), or set repotune.pythonPath.`
    : `Could not start the Python worker (${python}): ${err.message}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
