/**
 * What the MinHash signature (server/src/harvest/neardup.ts) calls a near copy: shingles of words, so a copy that
 * only changes layout or punctuation signs the same, a light edit stays above the near-duplicate bar, and other
 * code falls far below it. The native MinHash is checked against this one bit for bit in harvestNative.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../server/src/examples/prng';
import { estimatedJaccard, MIN_SHINGLES, minhashSignature, NEAR_DUPLICATE_MIN_JACCARD, SHINGLE_TOKENS } from '../../server/src/harvest/neardup';

/** A module of `n` small functions with names and numbers drawn from `seed`. */
function module(n: number, seed: number): string {
  const rng = mulberry32(seed);
  const names = ['user', 'order', 'item', 'price', 'cache', 'request', 'client', 'token', 'parse', 'render'];
  const pick = () => names[Math.floor(rng() * names.length)];
  return Array.from({ length: n }, (_, i) => {
    const [f, a, b] = [`${pick()}_${pick()}${i}`, pick(), pick()];
    return `def ${f}(${a}, ${b}):\n    if ${a} > ${b}:\n        return ${a} - ${b} * ${Math.floor(rng() * 100)}\n    return [${a} for _ in range(${b})]\n`;
  }).join('\n');
}

const sign = (text: string) => minhashSignature(Buffer.from(text, 'utf8'));

function similarity(a: string, b: string): number {
  const [sa, sb] = [sign(a), sign(b)];
  assert.ok(sa && sb, 'both texts are long enough to sign');
  return estimatedJaccard(sa, sb);
}

test('copies that only change layout or punctuation sign the same', () => {
  const original = module(40, 1);
  const variants = [
    original.replace(/ {4}/g, '\t'),
    original.replace(/\n/g, '\r\n'),
    original.replace(/, /g, ',').replace(/ > /g, '>'),
    original.replace(/\[/g, '(').replace(/\]/g, ')'),
    original.replace(/:\n/g, ' {\n'),
  ];
  for (const v of variants) assert.equal(similarity(original, v), 1, v.slice(0, 60));
});

test('light edits stay near copies; other code and renamed words do not', () => {
  const original = module(60, 2);
  const lines = original.split('\n');
  const edited = [...lines.slice(0, 20), '    log(user, order)', ...lines.slice(20).filter((_, i) => i !== 7)].join('\n');
  assert.ok(similarity(original, edited) >= NEAR_DUPLICATE_MIN_JACCARD, `light edit: ${similarity(original, edited)}`);
  assert.ok(similarity(original, module(60, 3)) < 0.5, 'another module of the same shape');
  // A word in every function renamed: most shingles of 5 words contain one.
  assert.ok(similarity(original, original.replace(/\brange\b/g, 'xrange')) < NEAR_DUPLICATE_MIN_JACCARD);
});

test('non-ASCII letters are part of words; texts of too few words have no signature', () => {
  const words = (n: number, w: string) => Array.from({ length: n }, (_, i) => `${w}${i}`).join(' ');
  const enough = MIN_SHINGLES + SHINGLE_TOKENS - 1;
  assert.equal(sign(words(enough - 1, 'w')), undefined);
  assert.ok(sign(words(enough, 'w')));
  assert.equal(sign('; ; ; = = ( ) '.repeat(100)), undefined, 'punctuation alone has no words');
  const text = words(80, 'café');
  assert.ok(similarity(text, text.replace(/é/g, 'e')) < 0.1, 'café is not cafe');
});
