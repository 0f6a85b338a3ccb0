/**
 * A tiny CodeTokenizer for families whose real tokenizer cannot be downloaded here (no model hub): one token per
 * code point, plus the family's special tokens at low ids. Prompt layout, budgets and masks do not depend on how
 * text is split, so it exercises the prompt builder's family logic exactly; the real demo tokenizer covers
 * qwen2.5-coder end to end.
 */
import type { CodeTokenizer } from '../../server/src/models/tokenizer';
import type { ModelFamily } from '../../server/src/examples/families';

const TEXT_ID_BASE = 1000;

export function fakeTokenizerFor(family: ModelFamily): CodeTokenizer {
  const specials = [family.fimPrefix, family.fimSuffix, family.fimMiddle, family.endOfMiddle, ...family.stopTokens];
  if (family.fileSeparator) specials.push(family.fileSeparator);
  if (family.repoName) specials.push(family.repoName);
  const ids = new Map<string, number>();
  for (const s of specials) if (!ids.has(s)) ids.set(s, ids.size);
  const byId = new Map([...ids].map(([s, id]) => [id, s]));
  return {
    source: `fake:${family.id}`,
    vocabSize: TEXT_ID_BASE + 0x110000,
    encode: (text) => [...text].map((ch) => TEXT_ID_BASE + ch.codePointAt(0)!),
    decode: (list) => list.map((id) => byId.get(id) ?? String.fromCodePoint(id - TEXT_ID_BASE)).join(''),
    tokenId: (token) => ids.get(token),
  };
}
