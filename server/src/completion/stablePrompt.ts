/**
 * The serving prompt, built so that consecutive keystrokes give prompts that differ only at their END, which is
 * what the engine's KV-cache reuse (engine/kvCache.ts) needs to prefill only the new tokens.
 *
 * Two things move a FIM prompt while typing, and both are held still here:
 *  1. The prefix's start. The window start is on a coarse grid (context.ts), and the prefix handed to the prompt
 *     builder is kept within its token budget by moving that start in whole grid steps, so the builder never has
 *     to cut the prefix's first tokens (its "last N tokens" cut would slide one token per typed token).
 *  2. The prefix's end. In PSM order the suffix comes AFTER the prefix, so a typed character would change every
 *     token after it: the whole suffix would be prefilled again per keystroke. So the prompt is anchored where the
 *     cursor line's content starts (after its indentation): the builder gets the text up to there, and what was
 *     typed on the line since follows the FIM middle token as the first tokens of the middle. This is the shape
 *     training teaches: `line` and `block` FIM middles start at a line's content, with the indentation at the
 *     prefix's end (examples/plan.ts), and the model learns every middle token after the ones before it. Typing on
 *     a line then changes only the prompt's last few tokens.
 *  3. Trailing blanks of the typed text ("x = ") are not encoded: training tokenizers join a space to the word
 *     after it (" foo"), so a lone trailing space token is a sequence the model never saw. They are kept as
 *     `pendingText`, which the generated text must start with and which afterTyped() removes from it.
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
  /** Typed blanks after the anchored text, not in the prompt: the generated text must start with them. */
  readonly pendingText: string;
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
    let contentStart = lineStart;
    while (isBlank(input.prefix.charCodeAt(contentStart))) contentStart++;
    const typed = input.prefix.slice(contentStart);
    let pendingText = typed.slice(trimmedEnd(typed));
    let anchored = typed.slice(0, typed.length - pendingText.length);
    let lineIds = anchored ? this.tok.encode(anchored) : [];
    if (lineIds.length > ANCHORED_LINE_TOKENS || anchored === '') {
      // A very long line is not anchored; nor is one where nothing follows its indentation yet (a plain prompt).
      anchored = '';
      pendingText = '';
      lineIds = [];
    }
    const settled = input.prefix.slice(0, input.prefix.length - anchored.length - pendingText.length);
    const dropped = this.fit(settled);
    const prompt = buildEditorPrompt(this.tok, this.family, { prefix: settled.slice(dropped), suffix: input.suffix, path: input.path }, { ...opts, budget: this.builderBudget });
    return {
      ...prompt,
      ids: lineIds.length > 0 ? [...prompt.ids, ...lineIds] : prompt.ids,
      anchoredChars: anchored.length,
      pendingText,
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

const SPACE = 32;
const TAB = 9;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Index after the last non-blank character of `text`. */
function trimmedEnd(text: string): number {
  let end = text.length;
  while (end > 0 && isBlank(text.charCodeAt(end - 1))) end--;
  return end;
}

/**
 * The completion after the cursor, from the text generated after a stable prompt: without the prompt's pending
 * blanks, which the model writes first (" foo" after "x ="). While the model has written only part of them the
 * completion is still empty; a model that went on otherwise (a newline) keeps its text, less leading blanks.
 */
export function afterTyped(generated: string, pendingText: string): string {
  if (pendingText === '') return generated;
  if (generated.startsWith(pendingText)) return generated.slice(pendingText.length);
  if (pendingText.startsWith(generated)) return '';
  return generated.slice(leadingBlanks(generated));
}

function leadingBlanks(text: string): number {
  let i = 0;
  while (isBlank(text.charCodeAt(i))) i++;
  return i;
}
