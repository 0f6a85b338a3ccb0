// runLogged is how environment setup runs venv and pip: lines stream as they come, and cancelling kills the whole
// process group (pip's own children included), not only the direct child.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { runLogged } from '../../server/src/environment/runLogged';

/** Running, not a zombie (a container's init may never reap a killed orphan). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('lines stream in order, the exit code is kept', async () => {
  const lines: string[] = [];
  const r = await runLogged('sh', ['-c', 'echo one; echo two >&2; exit 3'], { onLine: (l) => lines.push(l) });
  assert.equal(r.code, 3);
  assert.deepEqual([...lines].sort(), ['one', 'two']);
  assert.equal(r.cancelled, false);
});

test('abort kills the process group, grandchildren included', async () => {
  const abort = new AbortController();
  let grandchild = 0;
  const started = Date.now();
  // The shell starts a background sleep (a grandchild of ours), prints its pid, then waits on it.
  const r = await runLogged('sh', ['-c', 'sleep 30 & echo $!; wait'], {
    signal: abort.signal,
    onLine: (l) => {
      grandchild = Number(l);
      abort.abort();
    },
  });
  assert.equal(r.cancelled, true);
  assert.ok(Date.now() - started < 10_000, 'returned promptly');
  assert.ok(grandchild > 0);
  assert.equal(alive(grandchild), false, 'the background sleep was killed with its group');
});

test('a missing program is reported, not thrown', async () => {
  const r = await runLogged('/nonexistent/pip', [], {});
  assert.equal(r.spawnError?.code, 'ENOENT');
});
