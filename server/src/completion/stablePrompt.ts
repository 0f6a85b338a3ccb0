/**
 * The serving prompt, built so that consecutive keystrokes give prompts that differ only at their END, which is
 * what the engine's KV-cache reuse (engine/kvCache.ts) needs to prefill only the new tokens.
 *
 * Two things move a FIM prompt while typing, and both are held still here:
 *  1. The prefix's start. The window start is on a coarse grid (context.ts), and the prefix handed to the prompt
 *     builder is kept within its token budget by moving that start in whole grid steps, so the builder never has
 *     to cut the prefix's first tokens (its "last N tokens" cut would slide one token per typed token).
 *  2. The prefix's end. In PSM order the suffix comes AFTER the prefix, so a typed character would change every
 *     token after it: the whole suffix would be prefilled again per keystroke. So the prompt is anchored at the
 *     start of the cursor's line: the builder gets the text up to that line start, and what was typed on the line
 *     so far follows the FIM middle token as the first tokens of the middle. Training has this shape too (a FIM
 *     middle that starts at a line start: the `line` and `block` spans), and typing on a line now changes only
 *     the prompt's last few tokens.
 */
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from '../examples/families';
import type { PromptBudget } from '../examples/promptBuilder';
import { buildEditorPrompt, type EditorPrompt, type EditorPromptOptions } from '../examples/editorPrompt';
import { nextLineStart, PREFIX_WINDOW_STEP_CHARS } from './context';

/**
 * Tokens of the prompt budget kept for the cursor line's typed text (it follows the FIM middle token). A line
 * prefix longer than this is not anchored: it stays in the prefix (a normal prompt, no prefix reuse).
 */
export const ANCHORED_LINE_TOKENS = 64;
/** Fit attempts before the prefix is left to the builder's own cut (a pathological file, e.g. one huge line). */
const MAX_FIT_STEPS = 16;
/** Tokens of the FIM sentinels the builder adds (prefix, suffix, middle). */
const FIM_SENTINEL_TOKENS = 3;

export interface StablePromptInput {
  /** The prefix window (context.ts), its start already on the grid. */
  readonly prefix: string;
  readonly suffix: string;
  readonly path?: string;
}

export interface StablePrompt extends EditorPrompt {
  /** Characters of the cursor line placed after the FIM middle token (0 = a plain FIM prompt). */
  readonly anchoredChars: number;
  /** Characters cut from the prefix window's start to keep the prefix within its token budget. */
  readonly droppedPrefixChars: number;
}

/**
 * The prefix tokens the builder keeps for sure: it gives the prefix what suffix and context leave, and they take at
 * most their shares, so floor(body * prefixShare) always fits whatever the suffix and context are.
 */
export function guaranteedPrefixTokens(budget: PromptBudget): number {
  return Math.max(0, Math.floor((budget.maxPromptTokens - FIM_SENTINEL_TOKENS) * budget.prefixShare));
}

/**
 * Characters to drop from the start of `prefix` so that it encodes to at most `maxTokens`: 0, or a line start
 * reached in whole steps of `stepChars` (so the answer stays the same while text is added at the end, until the
 * budget overflows again). `countTokens` is called a few times at most.
 */
export function fitPrefixStart(prefix: string, maxTokens: number, countTokens: (text: string) => number, stepChars = PREFIX_WINDOW_STEP_CHARS): number {
  const total = countTokens(prefix);
  if (total <= maxTokens) return 0;
  const maxStep = Math.ceil(prefix.length / stepChars);
  // Candidate k: the line start at or after k steps. The answer is the SMALLEST fitting k (not just any), so it
  // does not depend on the estimate below and stays put while text is added at the end.
  const startOf = (k: number) => Math.min(prefix.length, nextLineStart(prefix, k * stepChars, prefix.length));
  const fits = (k: number) => countTokens(prefix.slice(startOf(k))) <= maxTokens;
  // First guess from the text's density, then walk to the smallest fitting k.
  let k = Math.min(maxStep, Math.max(1, Math.ceil(((total - maxTokens) * (prefix.length / total)) / stepChars)));
  for (let i = 0; i < MAX_FIT_STEPS && k < maxStep && !fits(k); i++) k++;
  for (let i = 0; i < MAX_FIT_STEPS && k > 1 && fits(k - 1); i++) k--;
  return startOf(k);
}

/**
 * Builds stable prompts for one tokenizer/family/budget. Keeps the token count of the last prefix it fitted, so a
 * keystroke on the same line (same text before the line) tokenizes nothing extra.
 */
export class StablePromptBuilder {
  private lastFit: { readonly prefix: string; readonly dropped: number } | undefined;

  constructor(
    private readonly tok: CodeTokenizer,
    private readonly family: ModelFamily,
    private readonly budget: PromptBudget,
  ) {}

  /** The builder's budget: the whole budget less the room kept for the anchored line. */
  private get builderBudget(): PromptBudget {
    return { ...this.budget, maxPromptTokens: Math.max(FIM_SENTINEL_TOKENS + 1, this.budget.maxPromptTokens - ANCHORED_LINE_TOKENS) };
  }

  build(input: StablePromptInput, opts: Omit<EditorPromptOptions, 'budget'> = {}): StablePrompt {
    const lineStart = input.prefix.lastIndexOf('\n') + 1;
    let settled = input.prefix.slice(0, lineStart);
    let lineIds = this.tok.encode(input.prefix.slice(lineStart));
    if (lineIds.length > ANCHORED_LINE_TOKENS) {
      settled = input.prefix; // a very long line: not anchored
      lineIds = [];
    }
    const dropped = this.fit(settled);
    const prompt = buildEditorPrompt(this.tok, this.family, { prefix: settled.slice(dropped), suffix: input.suffix, path: input.path }, { ...opts, budget: this.builderBudget });
    return {
      ...prompt,
      ids: lineIds.length > 0 ? [...prompt.ids, ...lineIds] : prompt.ids,
      anchoredChars: input.prefix.length - settled.length,
      droppedPrefixChars: dropped,
    };
  }

  private fit(settled: string): number {
    if (this.lastFit?.prefix === settled) return this.lastFit.dropped;
    const dropped = fitPrefixStart(settled, guaranteedPrefixTokens(this.builderBudget), (t) => this.tok.encode(t).length);
    this.lastFit = { prefix: settled, dropped };
    return dropped;
  }
}
