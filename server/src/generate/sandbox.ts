/**
 * Runs generated code in a subprocess: a fresh temporary folder, a timeout that kills the whole process group, no
 * network, and the folder removed afterwards whatever happened. Python code runs through
 * server/trainer/repotune_trainer/smoke_run.py, which refuses network, new processes and writes outside the folder.
 *
 * What "no network" means here: the interpreter runs isolated (`-I`: no PYTHON* variables, no user site, no script
 * folder on sys.path); smoke_run.py's audit hook refuses socket connect/bind/send and name resolution from Python;
 * the proxy variables point at an unroutable address, so a library that goes through a proxy gets nowhere; hub
 * libraries are told to stay offline. Native code (ctypes, C extensions) could still reach the network: this is a
 * guard against accidents of generated code, not a security boundary, which is why it only runs on the user's
 * explicit confirmation and only in a trusted workspace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Construct + forward + loss of a small model; torch's import alone takes ~3-5 s on a busy 2-core machine. */
export const SMOKE_TEST_TIMEOUT_MS = 90_000;
/** Output kept for the report: the end of it (where the traceback is). */
export const MAX_OUTPUT_CHARS = 8_000;
/** Proxies pointing here fail at once: port 9 (discard) on a TEST-NET-1 address that is never routed. */
export const UNROUTABLE_PROXY = 'http://192.0.2.1:9';
const SANDBOX_PREFIX = 'repotune-smoke-';

export interface SmokeRunOptions {
  readonly python: string;
  /** server/trainer of the installation (holds repotune_trainer/smoke_run.py). */
  readonly trainerDir: string;
  /** Files written into the folder; `smoke_test.py` is what runs. */
  readonly files: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface SmokeRunResult {
  readonly passed: boolean;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  /** stdout and stderr interleaved, the last MAX_OUTPUT_CHARS. */
  readonly output: string;
  readonly durationMs: number;
  /** The folder it ran in (already removed); tests check that it is gone. */
  readonly sandboxDir: string;
}

export function sandboxEnv(dir: string): NodeJS.ProcessEnv {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'SYSTEMROOT'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return {
    ...env,
    HOME: dir,
    TMPDIR: dir,
    http_proxy: UNROUTABLE_PROXY, https_proxy: UNROUTABLE_PROXY, all_proxy: UNROUTABLE_PROXY,
    HTTP_PROXY: UNROUTABLE_PROXY, HTTPS_PROXY: UNROUTABLE_PROXY, ALL_PROXY: UNROUTABLE_PROXY, no_proxy: '', NO_PROXY: '',
    HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', PIP_NO_INDEX: '1',
    // One thread: the editor and the sidecar share the machine (and more threads than free cores spin).
    OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1',
  };
}

export async function runSmokeTest(opts: SmokeRunOptions): Promise<SmokeRunResult> {
  if (!opts.files['smoke_test.py']) throw new Error('runSmokeTest needs a smoke_test.py');
  const runner = path.join(opts.trainerDir, 'repotune_trainer', 'smoke_run.py');
  if (!fs.existsSync(runner)) throw new Error(`${runner} is missing: the installation is incomplete.`);
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), SANDBOX_PREFIX)));
  const started = Date.now();
  try {
    for (const [name, text] of Object.entries(opts.files)) {
      if (name !== path.basename(name)) throw new Error(`sandbox file names must be plain names, got ${name}`);
      fs.writeFileSync(path.join(dir, name), text);
    }
    const outcome = await runProcess(opts.python, ['-I', '-B', runner, dir], dir, opts.timeoutMs ?? SMOKE_TEST_TIMEOUT_MS, opts.signal);
    return { ...outcome, passed: outcome.exitCode === 0 && !outcome.timedOut && !outcome.cancelled, durationMs: Date.now() - started, sandboxDir: dir };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface ProcessOutcome {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  output: string;
}

function runProcess(cmd: string, args: string[], cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    // Its own process group, so the kill reaches anything it started despite the guard (native code).
    const child = spawn(cmd, args, { cwd, env: sandboxEnv(cwd), stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let output = '';
    let timedOut = false;
    let cancelled = false;
    const take = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const kill = () => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) onAbort();
    child.on('error', (err) => {
      output += `\ncannot start ${cmd}: ${err.message}`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (timedOut) output += `\nkilled: no result within ${Math.round(timeoutMs / 1000)} s (the smoke-test timeout)`;
      resolve({ exitCode: code, timedOut, cancelled, output });
    });
  });
}
