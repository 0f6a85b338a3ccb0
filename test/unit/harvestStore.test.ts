/** The corpus pack: a new harvest into the same folder leaves the previous result readable, and its pack goes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACK_FILE, packStore } from '../../server/src/harvest/store';

const RETIRE_WAIT_MS = 5_000;

async function waitFor(check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + RETIRE_WAIT_MS;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

test('a second pack store in the folder keeps the first one readable and retires its file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repotune-store-'));
  try {
    const first = packStore(dir);
    const old = 'def old():\n    return 1\n'.repeat(1000);
    first.put('a'.repeat(64), new TextEncoder().encode(old));
    assert.equal(fs.statSync(path.join(dir, PACK_FILE)).size, Buffer.byteLength(old));

    const second = packStore(dir);
    const fresh = 'def new():\n    return 2\n';
    second.put('b'.repeat(64), new TextEncoder().encode(fresh));
    // The new pack holds only the new text; the first store still reads its own (a re-harvest while the last
    // result is in use must not turn its texts into the new run's bytes or zeros).
    assert.equal(fs.statSync(path.join(dir, PACK_FILE)).size, Buffer.byteLength(fresh));
    assert.equal(second.get('b'.repeat(64)), fresh);
    assert.equal(first.get('a'.repeat(64)), old);
    assert.ok(await waitFor(() => fs.readdirSync(dir).join() === PACK_FILE), `only the new pack is left: ${fs.readdirSync(dir)}`);
    assert.equal(first.get('a'.repeat(64)), old, 'still readable after its file was deleted');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('packs a crashed harvest left behind are deleted by the next one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repotune-store-'));
  try {
    fs.writeFileSync(path.join(dir, `${PACK_FILE}.retired-1-2`), 'stale');
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{}');
    packStore(dir);
    assert.ok(await waitFor(() => fs.readdirSync(dir).sort().join() === `manifest.json,${PACK_FILE}`), `${fs.readdirSync(dir)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
