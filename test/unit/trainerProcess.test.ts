/**
 * Process handling of the worker supervisor, against small stand-in workers (Python scripts placed where
 * `python -m repotune_trainer.rpc` finds them): these test the supervisor's own behaviour — timeouts, killing the
 * whole process group, crash reporting, the restart cap, a missing Python — which a healthy worker cannot show.
 * The real worker is exercised by the Python tests and the LSP integration test.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainerProcess, TrainerError, MAX_RESTARTS } from '../../server/src/training/trainerProcess';
import { pythonPath, tempDir } from '../helpers/paths';

/** Writes a stand-in `repotune_trainer.rpc` module and returns its trainer dir. */
function standIn(body: string): string {
  const dir = tempDir('standin');
  fs.mkdirSync(path.join(dir, 'repotune_trainer'));
  fs.writeFileSync(path.join(dir, 'repotune_trainer', '__init__.py'), '');
  fs.writeFileSync(path.join(dir, 'repotune_trainer', 'rpc.py'), body);
  return dir;
}

const ECHO = `
import json, sys, os
for line in sys.stdin:
    msg = json.loads(line)
    if msg["method"] == "notify_then_answer":
        for i in range(3):
            print(json.dumps({"jsonrpc": "2.0", "method": "progress", "params": {"step": i}}), flush=True)
    if msg["method"] == "fail":
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "bad model", "data": {"kind": "bad_model"}}}), flush=True)
        continue
    if msg["method"] == "crash":
        os._exit(3)
    print("not json, should be logged", flush=True)
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"method": msg["method"], "pid": os.getpid()}}), flush=True)
`;

// Starts a grandchild that would outlive a plain kill of the worker, then never answers.
const HANG = `
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, file=sys.stderr, flush=True)
time.sleep(600)
`;

function collectLog(): { lines: string[]; log: (level: string, m: string) => void } {
  const lines: string[] = [];
  return { lines, log: (level, m) => lines.push(`${level}: ${m}`) };
}

/** True while the process runs; a zombie (killed, not yet reaped by a container's init) counts as dead. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('answers requests, routes notifications, logs non-protocol output', async () => {
  const { lines, log } = collectLog();
  const t = new TrainerProcess({ python: pythonPath(), trainerDir: standIn(ECHO), log });
  try {
    const steps: number[] = [];
    t.on('progress', (p) => steps.push(p.step));
    const r = await t.request('notify_then_answer');
    assert.equal(r.method, 'notify_then_answer');
    assert.deepEqual(steps, [0, 1, 2]);
    assert.ok(lines.some((l) => l.includes('non-protocol output')));
    await assert.rejects(t.request('fail'), (e: unknown) => e instanceof TrainerError && e.kind === 'bad_model' && e.message === 'bad model');
  } finally {
    await t.dispose();
  }
});

test('a request that times out kills the whole process group', async () => {
  const { lines, log } = collectLog();
  const t = new TrainerProcess({ python: pythonPath(), trainerDir: standIn(HANG), log });
  await assert.rejects(t.request('anything', {}, 1500), (e: unknown) => e instanceof TrainerError && e.kind === 'timeout');
  // The grandchild's pid was printed on stderr (logged at debug level).
  await new Promise((r) => setTimeout(r, 300));
  const pidLine = lines.find((l) => /\[trainer\] \d+$/.test(l));
  assert.ok(pidLine, `grandchild pid logged: ${lines.join('\n')}`);
  const pid = Number(pidLine!.split(' ').at(-1));
  assert.equal(alive(pid), false, 'grandchild killed with the group');
  await t.dispose();
});

test('a crash rejects pending requests, restarts, and stops after the cap', async () => {
  const { log } = collectLog();
  const t = new TrainerProcess({ python: pythonPath(), trainerDir: standIn(ECHO), log });
  for (let i = 0; i <= MAX_RESTARTS; i++) {
    await assert.rejects(t.request('crash'), (e: unknown) => e instanceof TrainerError && e.kind === 'crashed');
  }
  await assert.rejects(t.request('ping'), /not restarting/);
  await t.dispose();
});

test('a missing Python says how to fix it', async () => {
  const t = new TrainerProcess({ python: '/nonexistent/python3', trainerDir: standIn(ECHO), log: () => undefined });
  await assert.rejects(t.request('ping'), /Python was not found at "\/nonexistent\/python3".*repotune.pythonPath/);
  await t.dispose();
});
