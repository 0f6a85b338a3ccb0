/**
 * Cuts the prefix and suffix windows around the cursor by character budget. The prompt builder then budgets them
 * in tokens; cutting by characters first keeps tokenization cost per keystroke bounded in large files.
 *
 * The prefix window's start is STABLE while typing: it sits on a grid of `prefixStepChars` in document offsets
 * (then on the next line start), so it moves in one jump every `prefixStepChars` typed characters instead of one
 * character per keystroke. Consecutive keystrokes then give prompts that share their start, and the engine reuses
 * the KV cache of that start (engine/kvCache.ts) instead of prefilling the whole prompt again.
 */

/** About 4 characters per token: twice the prompt builder's token budget, so it never starves. */
export const PREFIX_WINDOW_CHARS = 6000;
export const SUFFIX_WINDOW_CHARS = 2000;
/**
 * Grid of the prefix window's start. Larger = rarer full re-prefills while typing, but up to this many characters
 * less prefix than the budget allows (~1/6 of the default window).
 */
export const PREFIX_WINDOW_STEP_CHARS = 1024;

export interface CursorWindows {
  /** Text before the cursor, starting at a line start when the window had to be cut. */
  readonly prefix: string;
  /** Text after the cursor, ending at a line end when the window had to be cut. */
  readonly suffix: string;
  /** The cursor's line left and right of it. */
  readonly linePrefix: string;
  readonly lineSuffix: string;
}

export interface WindowBudget {
  readonly prefixChars: number;
  readonly suffixChars: number;
  /** Grid of the prefix window's start (default PREFIX_WINDOW_STEP_CHARS, at most prefixChars / 2). */
  readonly prefixStepChars?: number;
}

/**
 * First offset of the prefix window: the smallest multiple of the step that leaves at most `prefixChars` before
 * the cursor, moved on to the next line start (unless that line reaches the cursor). 0 when the whole prefix fits.
 */
export function stablePrefixStart(text: string, offset: number, budget: WindowBudget = DEFAULT_WINDOW_BUDGET): number {
  const overflow = offset - budget.prefixChars;
  if (overflow <= 0) return 0;
  const step = Math.max(1, Math.min(budget.prefixStepChars ?? PREFIX_WINDOW_STEP_CHARS, Math.floor(budget.prefixChars / 2)));
  return nextLineStart(text, Math.ceil(overflow / step) * step, offset);
}

/** The first line start at or after `from`, or `from` itself when no line starts before `limit`. */
export function nextLineStart(text: string, from: number, limit: number): number {
  if (from <= 0) return 0;
  const nl = text.indexOf('\n', from - 1);
  return nl >= 0 && nl < limit ? nl + 1 : from;
}

export const DEFAULT_WINDOW_BUDGET: WindowBudget = { prefixChars: PREFIX_WINDOW_CHARS, suffixChars: SUFFIX_WINDOW_CHARS };

export function cursorWindows(text: string, offset: number, budget: WindowBudget = DEFAULT_WINDOW_BUDGET): CursorWindows {
  // Starts on a line boundary so the model never sees half a line (unless that line alone is over budget).
  const start = stablePrefixStart(text, offset, budget);
  let end = Math.min(text.length, offset + budget.suffixChars);
  if (end < text.length) {
    const nl = text.lastIndexOf('\n', end);
    if (nl > offset) end = nl;
  }
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  return {
    prefix: text.slice(start, offset),
    suffix: text.slice(offset, end),
    linePrefix: text.slice(lineStart, offset),
    lineSuffix: text.slice(offset, lineEnd),
  };
}
