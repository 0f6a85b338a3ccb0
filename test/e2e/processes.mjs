// Process helpers for the e2e runner: a free port, the VS Code server started in its own process group (so the
// extension host, the sidecar and the Python worker it starts can be stopped together by that group's id).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

const HEALTH_POLL_MS = 250;
/** Time between SIGTERM and SIGKILL when stopping a process group. */
const KILL_GRACE_MS = 3_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `command args` as the leader of a new process group; stdout/stderr go to logFile. */
export function startGroup(command, args, { env, cwd, logFile }) {
  const out = fs.openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { env, cwd, detached: true, stdio: ['ignore', out, out] });
    child.on('error', (err) => fs.appendFileSync(logFile, `spawn error: ${err.message}\n`));
    return child;
  } finally {
    fs.closeSync(out);
  }
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the group this runner started, then SIGKILL to whatever is left after the grace period. */
export async function stopGroup(child) {
  if (!child?.pid) return;
  const pid = child.pid;
  if (!groupAlive(pid)) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + KILL_GRACE_MS;
  while (Date.now() < deadline && groupAlive(pid)) await sleep(HEALTH_POLL_MS);
  if (groupAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Polls an HTTP URL until it answers (any status below 500) or the timeout passes. */
export async function waitForHttp(url, timeoutMs, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the server exited before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(HEALTH_POLL_MS * 8) });
      if (res.status < 500) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(HEALTH_POLL_MS);
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s (${lastError})`);
}

/** Last lines of a log file, for failure reports. */
export function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}
