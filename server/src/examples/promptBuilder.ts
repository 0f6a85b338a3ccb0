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

/** Token budget of a prompt and its shares; context gets what prefix and suffix leave (unused context goes to the prefix). */
export interface PromptBudget {
  readonly maxPromptTokens: number;
  readonly prefixShare: number;
  readonly suffixShare: number;
}

export const DEFAULT_BUDGET: PromptBudget = { maxPromptTokens: 1024, prefixShare: 0.6, suffixShare: 0.25 };
/** A retrieved snippet cut to fewer tokens than this tells the model nothing; it is dropped instead. */
export const MIN_SNIPPET_TOKENS = 16;

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

  // Families with repository-level tokens were pretrained with the other files BEFORE the FIM sentinels
  // (<|file_sep|>path\ncode … <|file_sep|>current/path\n<|fim_prefix|>…); the others see them as comments at the
  // start of the prefix.
  const repoLevel = family.fileSeparator !== undefined && tok.tokenId(family.fileSeparator) !== undefined;
  const before = repoLevel ? contextIds : [];
  const inPrefix = repoLevel ? [] : contextIds;
  const ids =
    family.order === 'psm'
      ? [...before, pre, ...inPrefix, ...prefixIds, suf, ...suffixIds, mid]
      : [...before, suf, ...suffixIds, pre, ...inPrefix, ...prefixIds, mid];
  return { ids, endOfMiddleId, stopIds };
}

/**
 * Cross-file snippets as the family writes repository context: one file separator + path + text per snippet, then
 * the current file's path. Snippets come most relevant last; the least relevant are dropped when over budget, and
 * the first one (from the most relevant) that does not fit whole keeps its head when MIN_SNIPPET_TOKENS of it fit.
 */
function encodeContext(tok: CodeTokenizer, family: ModelFamily, input: PromptInput, limit: number): number[] {
  const snippets = input.context ?? [];
  if (snippets.length === 0 || limit <= 0) return [];
  const sep = family.fileSeparator !== undefined ? tok.tokenId(family.fileSeparator) : undefined;
  const current = sep !== undefined && input.path ? [sep, ...tok.encode(`${input.path}\n`)] : [];
  const available = limit - current.length;
  const out: number[] = [];
  for (let i = snippets.length - 1; i >= 0; i--) {
    const s = snippets[i];
    const piece = [...(sep !== undefined ? [sep] : []), ...tok.encode(`${sep === undefined ? '# ' : ''}${s.path}\n${s.text}\n`)];
    const room = available - out.length;
    if (piece.length <= room) {
      out.unshift(...piece);
      continue;
    }
    if (room >= MIN_SNIPPET_TOKENS) out.unshift(...piece.slice(0, room));
    break;
  }
  return out.length > 0 ? [...out, ...current] : [];
}
