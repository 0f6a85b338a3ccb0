/**
 * Decides, per file, which examples to draw: the file is cut into windows of whole lines (about one training
 * sequence of text each); each window becomes a FIM example (with probability fimRate) or a plain continuation.
 * FIM middles are line-based, like the completions users ask for: a whole line, the rest of a line from a random
 * column, or a block of a few lines. Only text is decided here; token ids are built in trainingExample.ts.
 */
import { randInt, type Rng } from './prng';

/** Rough characters per token of code, used only to size windows before tokenizing. */
export const CHARS_PER_TOKEN_ESTIMATE = 3.5;
/** Upper bound of characters per token: prefix/suffix text beyond seqLen × this can never fit, so it is cut early. */
export const MAX_CHARS_PER_TOKEN = 8;
/** Large files would dominate training; they contribute at most this many examples. */
export const MAX_EXAMPLES_PER_FILE = 64;
/** Longest multi-line FIM block. */
export const MAX_BLOCK_LINES = 8;

export type FimSpanKind = 'line' | 'rest-of-line' | 'block';

export interface FimPlan {
  readonly kind: 'fim';
  readonly span: FimSpanKind;
  readonly prefix: string;
  readonly middle: string;
  readonly suffix: string;
}

export interface ContinuationPlan {
  readonly kind: 'continuation';
  readonly text: string;
}

export type ExamplePlan = FimPlan | ContinuationPlan;

interface Line {
  readonly start: number;
  /** Offset of the line's newline (or the end of the text). */
  readonly end: number;
  /** Offset of the first non-blank character. */
  readonly content: number;
}

/** How many windows (about one training sequence of text each) a file is cut into. */
export function windowCount(text: string, seqLen: number): number {
  return Math.min(MAX_EXAMPLES_PER_FILE, Math.max(1, Math.ceil(text.length / (seqLen * CHARS_PER_TOKEN_ESTIMATE))));
}

/**
 * Plans `views` examples per window. Extra views are extra FIM spans of the same window (a window has only one
 * continuation), which is how a small repository still yields enough distinct FIM examples to learn from.
 */
export function planFileExamples(text: string, rng: Rng, seqLen: number, fimRate: number, views = 1): ExamplePlan[] {
  const lines = splitLines(text);
  const windows = windowCount(text, seqLen);
  const contextChars = seqLen * MAX_CHARS_PER_TOKEN;
  const plans: ExamplePlan[] = [];
  for (let w = 0; w < windows; w++) {
    const first = Math.floor((w * lines.length) / windows);
    const last = Math.floor(((w + 1) * lines.length) / windows) - 1;
    if (last < first) continue;
    const codeLines = range(first, last).filter((i) => lines[i].content < lines[i].end);
    if (codeLines.length === 0) continue;
    let continuationDone = false;
    for (let v = 0; v < views; v++) {
      const useFim = rng() < fimRate;
      if (useFim || (continuationDone && fimRate > 0)) {
        plans.push(planFim(text, lines, codeLines[randInt(rng, 0, codeLines.length - 1)], rng, contextChars));
      } else if (!continuationDone) {
        continuationDone = true;
        plans.push({ kind: 'continuation', text: text.slice(lines[first].start, Math.min(text.length, lines[last].end + 1)) });
      }
    }
  }
  return plans;
}

function planFim(text: string, lines: readonly Line[], at: number, rng: Rng, contextChars: number): FimPlan {
  const line = lines[at];
  const roll = rng();
  let span: FimSpanKind = roll < 1 / 3 ? 'line' : roll < 2 / 3 ? 'rest-of-line' : 'block';
  let start = line.content;
  let end = line.end;
  if (span === 'rest-of-line') {
    // A cut after at least one character of content: the user has typed something and wants the rest.
    if (end - line.content < 2) span = 'line';
    else start = randInt(rng, line.content + 1, end - 1);
    // Never cut between the two halves of a surrogate pair (emoji): both sides must stay valid text.
    if (isLowSurrogate(text.charCodeAt(start))) start = start + 1 < end ? start + 1 : start - 1;
  }
  if (span === 'block') {
    const lastLine = Math.min(lines.length - 1, at + randInt(rng, 1, MAX_BLOCK_LINES - 1));
    if (lastLine === at) span = 'line';
    else end = lines[lastLine].end;
  }
  // Prefix and suffix are cut at line boundaries (never inside a character); the prompt builder cuts tokens.
  const prefixFrom = Math.max(0, start - contextChars);
  const prefixStart = prefixFrom === 0 ? 0 : text.indexOf('\n', prefixFrom) + 1 || start;
  const suffixTo = Math.min(text.length, end + contextChars);
  const suffixEnd = suffixTo === text.length ? suffixTo : Math.max(end, text.lastIndexOf('\n', suffixTo));
  return {
    kind: 'fim',
    span,
    prefix: text.slice(Math.min(prefixStart, start), start),
    middle: text.slice(start, end),
    suffix: text.slice(end, suffixEnd),
  };
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let content = start;
    while (content < end && (text[content] === ' ' || text[content] === '\t')) content++;
    lines.push({ start, end, content });
    if (end === text.length) break;
    start = end + 1;
  }
  return lines;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
