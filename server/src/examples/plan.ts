/**
 * Decides, per file, which examples to draw: the file is cut into windows of whole lines (about one training
 * sequence of text each); each window becomes FIM examples (with probability fimRate) or a plain continuation.
 * FIM middles are drawn from a configurable mix of span kinds:
 * - line-based, like the completions users ask for: a whole line, the rest of a line from a random column, or a
 *   block of a few lines;
 * - syntax-based (tree-sitter, when the file's language has a grammar): a whole statement, a block, a function
 *   body or an argument list (see syntax/spans.ts). Kinds a window has no unit of drop out of the mix.
 * Documented functions and classes add docstring/comment → body examples. Only text is decided here; token ids are
 * built in trainingExample.ts.
 */
import { randInt, type Rng } from './prng';
import type { DocBodyTarget, DocTargetKind, SyntaxSpan, SyntaxSpanKind } from '../syntax/spans';

/** Rough characters per token of code, used only to size windows before tokenizing. */
export const CHARS_PER_TOKEN_ESTIMATE = 3.5;
/** Upper bound of characters per token: prefix/suffix text beyond seqLen × this can never fit, so it is cut early. */
export const MAX_CHARS_PER_TOKEN = 8;
/** Large files would dominate training; they contribute at most this many examples. */
export const MAX_EXAMPLES_PER_FILE = 64;
/** Longest multi-line FIM block. */
export const MAX_BLOCK_LINES = 8;
/** A syntax middle may take about this share of a sequence (trainingExample.ts enforces the exact token limit). */
export const SYNTAX_MIDDLE_SHARE = 0.5;
/** Docstring → body examples per file at most (a file of many small documented functions would dominate). */
export const MAX_DOC_EXAMPLES_PER_FILE = 16;

export type LineSpanKind = 'line' | 'rest-of-line' | 'block';
export type FimSpanKind = LineSpanKind | SyntaxSpanKind | DocTargetKind;

/** Relative weights of the FIM span kinds (normalised over the kinds a window has). */
export type SpanRates = Readonly<Record<LineSpanKind | SyntaxSpanKind, number>>;

/** Half line-based, half syntax-based where a grammar exists; line-based only elsewhere. */
export const DEFAULT_SPAN_RATES: SpanRates = {
  line: 0.2, 'rest-of-line': 0.15, block: 0.15,
  statement: 0.2, 'syntax-block': 0.1, 'function-body': 0.1, arguments: 0.1,
};
export const LINE_ONLY_SPAN_RATES: SpanRates = { ...DEFAULT_SPAN_RATES, statement: 0, 'syntax-block': 0, 'function-body': 0, arguments: 0 };

export interface FimPlan {
  readonly kind: 'fim';
  readonly span: FimSpanKind;
  readonly prefix: string;
  readonly middle: string;
  readonly suffix: string;
  /** Where the middle lies in the file ([start, end) offsets), to rebuild the editor state it came from. */
  readonly start: number;
  readonly end: number;
}

export interface ContinuationPlan {
  readonly kind: 'continuation';
  readonly text: string;
}

export type ExamplePlan = FimPlan | ContinuationPlan;

/** What the syntax stage found in a file (empty for languages without a grammar). */
export interface FileSyntax {
  readonly spans: readonly SyntaxSpan[];
  readonly docTargets: readonly DocBodyTarget[];
}

export interface PlanOptions {
  readonly syntax?: FileSyntax;
  readonly spanRates?: SpanRates;
  /** Probability that a documented function or class yields a docstring → body example (default 1). */
  readonly docRate?: number;
}

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
export function planFileExamples(text: string, rng: Rng, seqLen: number, fimRate: number, views = 1, opts: PlanOptions = {}): ExamplePlan[] {
  const lines = splitLines(text);
  const windows = windowCount(text, seqLen);
  const contextChars = seqLen * MAX_CHARS_PER_TOKEN;
  const maxSyntaxChars = seqLen * SYNTAX_MIDDLE_SHARE * CHARS_PER_TOKEN_ESTIMATE;
  const rates = opts.spanRates ?? DEFAULT_SPAN_RATES;
  const spans = (opts.syntax?.spans ?? []).filter((s) => s.end - s.start <= maxSyntaxChars);
  const plans: ExamplePlan[] = [];
  for (let w = 0; w < windows; w++) {
    const first = Math.floor((w * lines.length) / windows);
    const last = Math.floor(((w + 1) * lines.length) / windows) - 1;
    if (last < first) continue;
    const codeLines = range(first, last).filter((i) => lines[i].content < lines[i].end);
    if (codeLines.length === 0) continue;
    const inWindow = spans.filter((s) => s.start >= lines[first].start && s.start <= lines[last].end);
    let continuationDone = false;
    for (let v = 0; v < views; v++) {
      const useFim = rng() < fimRate;
      if (useFim || (continuationDone && fimRate > 0)) {
        const kind = chooseSpanKind(rng, rates, inWindow);
        if (kind === 'line' || kind === 'rest-of-line' || kind === 'block') {
          plans.push(planLineFim(text, lines, codeLines[randInt(rng, 0, codeLines.length - 1)], kind, rng, contextChars));
        } else {
          const candidates = inWindow.filter((s) => s.kind === kind);
          const span = candidates[randInt(rng, 0, candidates.length - 1)];
          plans.push(cutAround(text, kind, span.start, span.end, contextChars));
        }
      } else if (!continuationDone) {
        continuationDone = true;
        plans.push({ kind: 'continuation', text: text.slice(lines[first].start, Math.min(text.length, lines[last].end + 1)) });
      }
    }
  }
  const docRate = opts.docRate ?? 1;
  let docs = 0;
  for (const target of opts.syntax?.docTargets ?? []) {
    if (docs >= MAX_DOC_EXAMPLES_PER_FILE) break;
    if (rng() >= docRate) continue;
    plans.push(cutAround(text, target.kind, target.start, target.end, contextChars));
    docs++;
  }
  return plans;
}

/** A kind drawn by weight among the line kinds and the syntax kinds this window has units of. */
function chooseSpanKind(rng: Rng, rates: SpanRates, inWindow: readonly SyntaxSpan[]): LineSpanKind | SyntaxSpanKind {
  const present = new Set(inWindow.map((s) => s.kind));
  const kinds = (Object.keys(rates) as (LineSpanKind | SyntaxSpanKind)[]).filter(
    (k) => rates[k] > 0 && (k === 'line' || k === 'rest-of-line' || k === 'block' || present.has(k as SyntaxSpanKind)),
  );
  if (kinds.length === 0) return 'line';
  const total = kinds.reduce((sum, k) => sum + rates[k], 0);
  let roll = rng() * total;
  for (const k of kinds) {
    roll -= rates[k];
    if (roll < 0) return k;
  }
  return kinds[kinds.length - 1];
}

function planLineFim(text: string, lines: readonly Line[], at: number, kind: LineSpanKind, rng: Rng, contextChars: number): FimPlan {
  const line = lines[at];
  let span: LineSpanKind = kind;
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
  return cutAround(text, span, start, end, contextChars);
}

/** The FIM plan of middle [start, end): prefix and suffix are cut at line boundaries; the prompt builder cuts tokens. */
function cutAround(text: string, span: FimSpanKind, start: number, end: number, contextChars: number): FimPlan {
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
    start,
    end,
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
