/** withHugePageMalloc: the env the sidecar is spawned with, and what it does to a Node process on this machine. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { HUGE_PAGE_TUNABLE, withHugePageMalloc } from '../../server/src/completion/engine/hugePages';

const CASES: { name: string; tunables: string | undefined; platform: NodeJS.Platform; expected: string | undefined }[] = [
  { name: 'added when unset', tunables: undefined, platform: 'linux', expected: HUGE_PAGE_TUNABLE },
  { name: 'appended to other tunables', tunables: 'glibc.malloc.arena_max=2', platform: 'linux', expected: `glibc.malloc.arena_max=2:${HUGE_PAGE_TUNABLE}` },
  { name: 'empty entries dropped', tunables: ':glibc.malloc.arena_max=2:', platform: 'linux', expected: `glibc.malloc.arena_max=2:${HUGE_PAGE_TUNABLE}` },
  { name: "the user's own choice kept (opt-out)", tunables: 'glibc.malloc.hugetlb=0', platform: 'linux', expected: 'glibc.malloc.hugetlb=0' },
  { name: 'not on macOS', tunables: undefined, platform: 'darwin', expected: undefined },
  { name: 'not on Windows', tunables: undefined, platform: 'win32', expected: undefined },
];

for (const c of CASES) {
  test(`GLIBC_TUNABLES: ${c.name}`, () => {
    const env: NodeJS.ProcessEnv = { PATH: '/bin', ...(c.tunables === undefined ? {} : { GLIBC_TUNABLES: c.tunables }) };
    const out = withHugePageMalloc(env, c.platform);
    assert.equal(out.GLIBC_TUNABLES, c.expected);
    assert.equal(out.PATH, '/bin');
    assert.equal(env.GLIBC_TUNABLES, c.tunables, 'the caller\'s env is not modified');
  });
}

/**
 * Anonymous huge pages (kB) of a Node process that allocates and touches a 64 MiB typed array, like a KV buffer
 * (held by globalThis: an unreferenced one can be collected, and unmapped, before smaps is read).
 */
function hugePagesOfChild(env: NodeJS.ProcessEnv): number {
  const script = "globalThis.kv = new Float32Array(16 * 1024 * 1024).fill(1); process.stdout.write(require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8').match(/AnonHugePages:\\s+(\\d+)/)[1])";
  return Number(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }));
}

const THP_MODE = (() => {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
})();

test('a process spawned with the env gets huge pages for its large buffers where the kernel leaves it to madvise', {
  skip: THP_MODE === 'madvise' ? false : `transparent huge pages are "${THP_MODE ?? 'unavailable'}" here, not "madvise"`,
}, () => {
  const base = { ...process.env };
  delete base.GLIBC_TUNABLES;
  assert.equal(hugePagesOfChild(base), 0, 'without the tunable (madvise mode) nothing asks for huge pages');
  const huge = hugePagesOfChild(withHugePageMalloc(base));
  assert.ok(huge >= 32 * 1024, `${huge} kB of the 64 MiB buffer in huge pages; expected at least half`);
});
