/**
 * Decides, before any model work, whether a completion request is worth serving. Each refusal has a named
 * reason so the sidecar can log why nothing was shown.
 */

/** Files larger than this are generated or data files; tokenizing their windows on every keystroke is waste. */
export const MAX_FILE_CHARS = 1_000_000;
/** Lines longer than this (minified code) give the model nothing useful to complete. */
export const MAX_CURSOR_LINE_CHARS = 1000;

export type SkipReason =
  | 'completions-disabled'
  | 'language-disabled'
  | 'offset-out-of-range'
  | 'file-too-large'
  | 'line-too-long'
  | 'binary-content'
  | 'mid-word';

export interface PrefilterRequest {
  readonly text: string;
  readonly offset: number;
  readonly languageId: string;
}

export interface PrefilterOptions {
  readonly enabled?: boolean;
  readonly disabledLanguages?: ReadonlySet<string> | readonly string[];
  readonly maxFileChars?: number;
}

const WORD_CHAR = /[\p{L}\p{N}_$]/u;

/** The reason to skip this request, or undefined to serve it. */
export function prefilter(req: PrefilterRequest, opts: PrefilterOptions = {}): SkipReason | undefined {
  if (opts.enabled === false) return 'completions-disabled';
  const disabled = opts.disabledLanguages;
  if (disabled && (disabled instanceof Set ? disabled.has(req.languageId) : (disabled as readonly string[]).includes(req.languageId))) {
    return 'language-disabled';
  }
  if (!Number.isInteger(req.offset) || req.offset < 0 || req.offset > req.text.length) return 'offset-out-of-range';
  if (req.text.length > (opts.maxFileChars ?? MAX_FILE_CHARS)) return 'file-too-large';
  const lineStart = req.text.lastIndexOf('\n', req.offset - 1) + 1;
  let lineEnd = req.text.indexOf('\n', req.offset);
  if (lineEnd < 0) lineEnd = req.text.length;
  if (lineEnd - lineStart > MAX_CURSOR_LINE_CHARS) return 'line-too-long';
  if (req.text.slice(lineStart, lineEnd).includes('\0')) return 'binary-content';
  // Completing in the middle of a word would split an identifier the user is editing, not writing.
  const right = req.text[req.offset];
  if (right !== undefined && WORD_CHAR.test(right)) return 'mid-word';
  return undefined;
}
