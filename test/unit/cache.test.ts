/** CompletionCache: exact hits, LRU eviction, and serving the rest of a completion the user types into. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionCache, CACHE_KEY_PREFIX_CHARS, MAX_TYPED_THROUGH_CHARS } from '../../server/src/completion/cache';

const S = 'ts:a.ts';

test('exact hit and misses on another prefix, suffix or scope', () => {
  const c = new CompletionCache();
  c.set(S, 'const x = ', ';\n', '42');
  assert.deepEqual(c.get(S, 'const x = ', ';\n'), { completion: '42', typedChars: 0 });
  assert.equal(c.get(S, 'const y = ', ';\n'), undefined);
  assert.equal(c.get(S, 'const x = ', '\n'), undefined);
  assert.equal(c.get('ts:b.ts', 'const x = ', ';\n'), undefined);
});

const typingCases: { name: string; typed: string; expected: string | undefined }[] = [
  { name: 'one char typed', typed: 'r', expected: 'eturn a + b;' },
  { name: 'several chars typed', typed: 'return a', expected: ' + b;' },
  { name: 'typed text diverges', typed: 'rex', expected: undefined },
  { name: 'whole completion typed: nothing left', typed: 'return a + b;', expected: undefined },
];

for (const c of typingCases) {
  test(`type-through: ${c.name}`, () => {
    const cache = new CompletionCache();
    cache.set(S, 'function add(a, b) {\n  ', '\n}', 'return a + b;');
    const hit = cache.get(S, 'function add(a, b) {\n  ' + c.typed, '\n}');
    assert.equal(hit?.completion, c.expected);
    if (hit) assert.equal(hit.typedChars, c.typed.length);
  });
}

test('type-through works after the prefix window start moved', () => {
  const cache = new CompletionCache();
  const long = 'x'.repeat(CACHE_KEY_PREFIX_CHARS * 2) + '\nlet total = ';
  cache.set(S, long, '', 'sum(items)');
  // The window dropped its first characters while the user typed "su".
  assert.equal(cache.get(S, long.slice(10) + 'su', '')?.completion, 'm(items)');
});

test('type-through is bounded by MAX_TYPED_THROUGH_CHARS', () => {
  const cache = new CompletionCache();
  const completion = 'a'.repeat(MAX_TYPED_THROUGH_CHARS + 10);
  cache.set(S, 'p', '', completion);
  assert.equal(cache.get(S, 'p' + 'a'.repeat(MAX_TYPED_THROUGH_CHARS), '')?.completion, 'a'.repeat(10));
  assert.equal(cache.get(S, 'p' + 'a'.repeat(MAX_TYPED_THROUGH_CHARS + 1), '')?.completion, undefined);
});

test('LRU: least recently used entry is evicted first; get refreshes', () => {
  const c = new CompletionCache(2);
  c.set(S, 'a', '', '1');
  c.set(S, 'b', '', '2');
  assert.ok(c.get(S, 'a', '')); // a is now the most recent
  c.set(S, 'c', '', '3');
  assert.equal(c.size, 2);
  assert.equal(c.get(S, 'b', ''), undefined);
  assert.equal(c.get(S, 'a', '')?.completion, '1');
  assert.equal(c.get(S, 'c', '')?.completion, '3');
  c.clear();
  assert.equal(c.size, 0);
});
