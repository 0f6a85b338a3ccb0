/**
 * THE prompt builder: the one place that turns (prefix, suffix, context, family) into token ids. Training shards
 * (examples/) and serving (completion/) both call it, so the model is trained on exactly the sequences it is
 * prompted with. test/unit/promptParity.test.ts proves the two paths agree token for token.
 */
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from './families';

export interface ContextSnippet {
  readonly path: string;
  readonly text: string;
}

export interface PromptInput {
  readonly prefix: string;
  readonly suffix: string;
  /** Repository-relative path of the file being completed. */
  readonly path?: string;
  /** Retrieved cross-file snippets, most relevant last (closest to the cursor). */
  readonly context?: readonly ContextSnippet[];
}

/** Token budget of a prompt and its shares. */
export interface PromptBudget {
  readonly maxPromptTokens: number;
  readonly prefixShare: number;
  readonly suffixShare: number;
}

export const DEFAULT_BUDGET: PromptBudget = { maxPromptTokens: 1024, prefixShare: 0.6, suffixShare: 0.25 };

export interface BuiltPrompt {
  readonly ids: number[];
  /** Ids of the token that ends a middle (appended after the middle in training; a stop token in serving). */
  readonly endOfMiddleId: number;
  readonly stopIds: ReadonlySet<number>;
}

function specialId(tok: CodeTokenizer, token: string): number {
  const id = tok.tokenId(token);
  if (id === undefined) throw new Error(`tokenizer has no token ${token}`);
  return id;
}

/** Keeps the last `n` tokens of the prefix (nearest the cursor) and the first `n` of the suffix. */
function tail(ids: number[], n: number): number[] {
  return n <= 0 ? [] : ids.length <= n ? ids : ids.slice(ids.length - n);
}
function head(ids: number[], n: number): number[] {
  return n <= 0 ? [] : ids.slice(0, n);
}

export function buildFimPrompt(tok: CodeTokenizer, family: ModelFamily, input: PromptInput, budget: PromptBudget = DEFAULT_BUDGET): BuiltPrompt {
  const pre = specialId(tok, family.fimPrefix);
  const suf = specialId(tok, family.fimSuffix);
  const mid = specialId(tok, family.fimMiddle);
  const endOfMiddleId = specialId(tok, family.endOfMiddle);
  const stopIds = new Set<number>([endOfMiddleId]);
  for (const s of family.stopTokens) {
    const id = tok.tokenId(s);
    if (id !== undefined) stopIds.add(id);
  }

  const body = budget.maxPromptTokens - 3;
  const suffixIds = head(tok.encode(input.suffix), Math.floor(body * budget.suffixShare));
  const contextIds = encodeContext(tok, family, input, Math.floor(body * (1 - budget.prefixShare - budget.suffixShare)));
  const prefixIds = tail(tok.encode(input.prefix), body - suffixIds.length - contextIds.length);

  const ids =
    family.order === 'psm'
      ? [pre, ...contextIds, ...prefixIds, suf, ...suffixIds, mid]
      : [suf, ...suffixIds, pre, ...contextIds, ...prefixIds, mid];
  return { ids, endOfMiddleId, stopIds };
}

/** Cross-file snippets as the family writes repository context: one file separator + path + text per snippet. */
function encodeContext(tok: CodeTokenizer, family: ModelFamily, input: PromptInput, limit: number): number[] {
  const snippets = input.context ?? [];
  if (snippets.length === 0 || limit <= 0) return [];
  const sep = family.fileSeparator !== undefined ? tok.tokenId(family.fileSeparator) : undefined;
  const out: number[] = [];
  // Most relevant snippets are last; drop from the front when over budget.
  for (let i = snippets.length - 1; i >= 0; i--) {
    const s = snippets[i];
    const piece = [...(sep !== undefined ? [sep] : []), ...tok.encode(`${sep === undefined ? '# ' : ''}${s.path}\n${s.text}\n`)];
    if (out.length + piece.length > limit) break;
    out.unshift(...piece);
  }
  if (out.length > 0 && sep !== undefined && input.path) out.push(sep, ...tok.encode(`${input.path}\n`));
  return out;
}
