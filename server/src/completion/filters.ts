/**
 * Stream filters: each looks at the text generated so far and either lets generation go on or stops it, saying
 * how much of the text to keep. They run after every token (so a bad completion costs no further model runs) and
 * once more when generation ends (`final`: the last line is then complete too).
 */

/** A completion never spans more lines than this; ghost text beyond a screenful is rarely accepted. */
export const MAX_COMPLETION_LINES = 12;
/** The same line this many times in a row is a decoding loop, not code. */
export const MAX_REPEATED_LINE = 3;
/** How far back in the prefix brackets are counted as open (older ones are unlikely to be closed by a completion). */
export const PREFIX_BRACKET_SCAN_CHARS = 2000;

export type FilterVerdict = { readonly stop: false } | { readonly stop: true; readonly keep: string; readonly reason: string };
export type StreamFilter = (generated: string, final: boolean) => FilterVerdict;

const GO_ON: FilterVerdict = { stop: false };
const stopAt = (keep: string, reason: string): FilterVerdict => ({ stop: true, keep, reason });

/** Lines that are complete: all but the last, unless generation has ended. */
function completeLines(text: string, final: boolean): string[] {
  const lines = text.split('\n');
  return final ? lines : lines.slice(0, -1);
}

/** Text before line `index` (without the newline that ends the previous line). */
function textBeforeLine(text: string, index: number): string {
  return text.split('\n').slice(0, index).join('\n');
}

export function maxLinesFilter(maxLines: number = MAX_COMPLETION_LINES): StreamFilter {
  return (text) => {
    const lines = text.split('\n');
    return lines.length > maxLines ? stopAt(lines.slice(0, maxLines).join('\n'), `max-lines:${maxLines}`) : GO_ON;
  };
}

/**
 * Stops when the completion starts writing what already follows the cursor: the rest of the cursor's line at the
 * end of the first line (`foo(|)` completed as `a)`), or the next non-blank line of the suffix as a line of its own.
 */
export function suffixOverlapFilter(suffix: string): StreamFilter {
  const suffixLines = suffix.split('\n');
  const lineSuffix = suffixLines[0].trim();
  const nextLine = suffixLines.slice(1).find((l) => l.trim() !== '')?.trimEnd();
  return (text, final) => {
    const lines = completeLines(text, final);
    if (lines.length > 0 && lineSuffix !== '') {
      const first = lines[0].trimEnd();
      if (first.endsWith(lineSuffix)) return stopAt(first.slice(0, first.length - lineSuffix.length), 'suffix-overlap');
    }
    if (nextLine !== undefined) {
      for (let i = 1; i < lines.length; i++) {
        if (lines[i].trimEnd() === nextLine) return stopAt(textBeforeLine(text, i), 'suffix-overlap');
      }
    }
    return GO_ON;
  };
}

/** Stops when one non-blank line repeats MAX_REPEATED_LINE times in a row; keeps its first occurrence. */
export function repeatedLinesFilter(maxRepeats: number = MAX_REPEATED_LINE): StreamFilter {
  return (text, final) => {
    const lines = completeLines(text, final);
    let run = 1;
    for (let i = 1; i < lines.length; i++) {
      run = lines[i].trim() !== '' && lines[i] === lines[i - 1] ? run + 1 : 1;
      if (run >= maxRepeats) return stopAt(textBeforeLine(text, i - maxRepeats + 2), 'repeated-line');
    }
    return GO_ON;
  };
}

/** A chunk repeated this many times in a row, back to back, is a decoding loop (`.fun.fun.fun…`, `', ', ', '…`). */
export const MAX_CHUNK_REPEATS = 5;
/** Longest chunk looked for; longer loops are whole lines, which repeatedLinesFilter handles. */
export const MAX_LOOP_CHUNK_CHARS = 16;
// Loops of pure punctuation or spaces (rulers like `# -----`, `======`) are legitimate code and are left alone.
const LOOP_AT_END = new RegExp(`([^\\n]{2,${MAX_LOOP_CHUNK_CHARS}}?)\\1{${MAX_CHUNK_REPEATS - 1},}$`);

/** Stops a degenerate loop inside a line, keeping the text up to the end of the chunk's first occurrence. */
export function repeatedChunkFilter(): StreamFilter {
  return (text) => {
    const m = LOOP_AT_END.exec(text);
    if (!m || !/[\p{L}\p{N}'"`]/u.test(m[1])) return GO_ON;
    return stopAt(text.slice(0, m.index + m[1].length), 'repeated-chunk');
  };
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set(Object.values(OPENERS));
const QUOTES = new Set(['"', "'", '`']);

/**
 * Walks code and tracks open brackets, skipping those inside simple string literals. Returns the index of the
 * first closer that matches nothing (or -1) and the brackets still open. `open` is the stack to start from.
 */
function scanBrackets(code: string, open: string[]): { unmatchedAt: number; open: string[] } {
  const stack = [...open];
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote || (c === '\n' && quote !== '`')) quote = undefined;
    } else if (QUOTES.has(c)) quote = c;
    else if (OPENERS[c] !== undefined) stack.push(OPENERS[c]);
    else if (CLOSERS.has(c)) {
      if (stack[stack.length - 1] !== c) return { unmatchedAt: i, open: stack };
      stack.pop();
    }
  }
  return { unmatchedAt: -1, open: stack };
}

/** Brackets the prefix leaves open (a completion may close these), innermost last. */
export function openBrackets(prefix: string): string[] {
  const recent = prefix.slice(-PREFIX_BRACKET_SCAN_CHARS);
  const stack: string[] = [];
  // Closers in the prefix that match nothing (the window cut their opener off) are skipped, not fatal.
  let rest = recent;
  for (;;) {
    const scan = scanBrackets(rest, stack);
    stack.splice(0, stack.length, ...scan.open);
    if (scan.unmatchedAt < 0) return stack;
    rest = rest.slice(scan.unmatchedAt + 1);
  }
}

/** Stops at a closing bracket that closes nothing opened in the completion or left open by the prefix. */
export function unbalancedBracketFilter(prefix: string): StreamFilter {
  const prefixOpen = openBrackets(prefix);
  return (text) => {
    const { unmatchedAt } = scanBrackets(text, prefixOpen);
    return unmatchedAt < 0 ? GO_ON : stopAt(text.slice(0, unmatchedAt), 'unbalanced-bracket');
  };
}

export interface FilterContext {
  readonly prefix: string;
  readonly suffix: string;
}

/** The filter chain of a request. Text right of the cursor means a single-line completion (it must end there). */
export function defaultFilters(ctx: FilterContext): StreamFilter[] {
  const lineSuffix = ctx.suffix.split('\n')[0];
  return [
    maxLinesFilter(lineSuffix.trim() === '' ? MAX_COMPLETION_LINES : 1),
    suffixOverlapFilter(ctx.suffix),
    repeatedLinesFilter(),
    repeatedChunkFilter(),
    unbalancedBracketFilter(ctx.prefix),
  ];
}

/** Runs every filter; when several stop, the shortest kept text wins (each cut is a reason to end there). */
export function runFilters(filters: readonly StreamFilter[], text: string, final: boolean): FilterVerdict {
  let verdict: FilterVerdict = GO_ON;
  for (const filter of filters) {
    const v = filter(text, final);
    if (v.stop && (!verdict.stop || v.keep.length < verdict.keep.length)) verdict = v;
  }
  return verdict;
}
