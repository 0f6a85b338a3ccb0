/**
 * Cuts the prefix and suffix windows around the cursor by character budget. The prompt builder then budgets them
 * in tokens; cutting by characters first keeps tokenization cost per keystroke bounded in large files.
 */

/** About 4 characters per token: twice the prompt builder's token budget, so it never starves. */
export const PREFIX_WINDOW_CHARS = 6000;
export const SUFFIX_WINDOW_CHARS = 2000;

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
}

export const DEFAULT_WINDOW_BUDGET: WindowBudget = { prefixChars: PREFIX_WINDOW_CHARS, suffixChars: SUFFIX_WINDOW_CHARS };

export function cursorWindows(text: string, offset: number, budget: WindowBudget = DEFAULT_WINDOW_BUDGET): CursorWindows {
  let start = Math.max(0, offset - budget.prefixChars);
  if (start > 0) {
    // Start on a line boundary so the model never sees half a line (unless that line alone is over budget).
    const nl = text.indexOf('\n', start - 1);
    if (nl >= 0 && nl < offset) start = nl + 1;
  }
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
