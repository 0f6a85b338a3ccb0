/**
 * Deduplication keeps one file of each group of copies and near copies, holdout first, and the native addon's
 * decisions (server/native/src/dedupe.rs) are the JavaScript ones: checked on generated signatures around the
 * near-duplicate bar, exact copies with other signatures, unsigned files and holdout files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mulberry32 } from '../../server/src/examples/prng';
import { dedupe, twinsOf, type Candidate } from '../../server/src/harvest/dedupe';
import { loadAddon } from '../../server/src/harvest/native';
import { NEAR_DUPLICATE_MIN_JACCARD, SIGNATURE_BINS } from '../../server/src/harvest/neardup';

const hasCargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasCargo ? false : 'no Rust toolchain: the harvest runs in JavaScript only';

/** Bins that may differ with the files still near copies (52 of 64 equal at the 0.8 bar). */
const MAX_DIFFERENT_BINS = Math.floor(SIGNATURE_BINS * (1 - NEAR_DUPLICATE_MIN_JACCARD));

/** Files in groups: an original, then copies with 0 to 2×MAX_DIFFERENT_BINS bins changed, some exact, some unsigned. */
function candidates(n: number, seed: number): Candidate[] {
  const rng = mulberry32(seed);
  const randomSig = () => Uint32Array.from({ length: SIGNATURE_BINS }, () => Math.floor(rng() * 2 ** 32));
  const out: Candidate[] = [];
  let original = randomSig();
  let originalSha = '';
  for (let i = 0; i < n; i++) {
    const sha = (i.toString(16).padStart(8, '0') + 'ab').repeat(7).slice(0, 64);
    const kind = rng();
    let signature: Uint32Array | undefined;
    let sha256 = sha;
    if (kind < 0.3 || i === 0) {
      original = randomSig();
      originalSha = sha;
      signature = original;
    } else if (kind < 0.8) {
      signature = Uint32Array.from(original);
      const changed = Math.floor(rng() * (2 * MAX_DIFFERENT_BINS + 1));
      for (let k = 0; k < changed; k++) signature[Math.floor(rng() * SIGNATURE_BINS)] ^= 1 + Math.floor(rng() * 1000);
    } else if (kind < 0.9) {
      sha256 = originalSha; // an exact copy, whatever its signature says
      signature = rng() < 0.5 ? original : randomSig();
    }
    out.push({ path: `f${String(i).padStart(5, '0')}.ts`, sha256, bytes: 100, signature });
  }
  return out;
}

test('the addon deduplicates exactly as the JavaScript index does', { skip }, () => {
  assert.ok(loadAddon(), 'harvestNative.node is built beside the test bundles (node esbuild.mjs --tests)');
  for (const seed of [1, 2, 3]) {
    const files = candidates(3000, seed);
    const rng = mulberry32(seed + 100);
    const holdout = new Set(files.filter(() => rng() < 0.2).map((c) => c.path));
    const isHoldout = (c: Candidate) => holdout.has(c.path);
    assert.deepEqual([...twinsOf(files, true)], [...twinsOf(files, false)], `seed ${seed}`);
    const native = dedupe(files, isHoldout, true);
    const js = dedupe(files, isHoldout, false);
    const paths = (r: typeof js) => [r.kept.map((c) => c.path), r.dropped.map((d) => `${d.candidate.path} ${d.reason}`)];
    assert.deepEqual(paths(native), paths(js), `seed ${seed}`);
    // Every outcome occurs, so the comparison covers each.
    const reasons = new Set(js.dropped.map((d) => d.reason));
    assert.deepEqual([...reasons].sort(), ['duplicate', 'near-duplicate', 'near-duplicate-of-holdout']);
    assert.ok(js.kept.length > 500 && js.dropped.length > 500, `${js.kept.length} kept, ${js.dropped.length} dropped`);
  }
});

test('copies point at the first kept file; holdout files are kept before training files', () => {
  const sig = Uint32Array.from({ length: SIGNATURE_BINS }, (_, i) => i * 7919);
  const atBar = Uint32Array.from(sig);
  for (let k = 0; k < MAX_DIFFERENT_BINS; k++) atBar[k * 3] += 1;
  const pastBar = Uint32Array.from(atBar);
  pastBar[SIGNATURE_BINS - 1] += 1; // one bin more than a near copy may differ in
  const nearPast = Uint32Array.from(pastBar);
  nearPast[SIGNATURE_BINS - 2] += 1;
  const c = (path: string, sha: string, signature?: Uint32Array): Candidate => ({ path, sha256: sha.repeat(64), bytes: 1, signature });
  const files = [c('a.ts', '0', atBar), c('b.ts', '1', sig), c('c.ts', '1', pastBar), c('d.ts', '3', pastBar), c('e.ts', '4'), c('f.ts', '5', nearPast)];
  for (const useNative of hasCargo ? [true, false] : [false]) {
    const { kept, dropped } = dedupe(files, (f) => f.path === 'b.ts', useNative);
    assert.deepEqual(kept.map((f) => f.path), ['b.ts', 'd.ts', 'e.ts'], `native: ${useNative}`);
    assert.deepEqual(
      dropped.map((d) => `${d.candidate.path} ${d.reason}`),
      ['a.ts near-duplicate-of-holdout', 'c.ts duplicate', 'f.ts near-duplicate'],
      `native: ${useNative}`,
    );
  }
});
