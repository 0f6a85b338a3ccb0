/** Stream filters, prefilter, cursor windows and postprocessing: pure functions, table-driven. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultFilters, maxLinesFilter, openBrackets, repeatedChunkFilter, repeatedLinesFilter, runFilters, suffixOverlapFilter, unbalancedBracketFilter,
  MAX_COMPLETION_LINES, type StreamFilter,
} from '../../server/src/completion/filters';
import { prefilter, MAX_FILE_CHARS, MAX_CURSOR_LINE_CHARS, type SkipReason } from '../../server/src/completion/prefilter';
import { cursorWindows } from '../../server/src/completion/context';
import { postprocessCompletion } from '../../server/src/completion/postprocess';

interface FilterCase {
  name: string;
  filter: StreamFilter;
  text: string;
  final?: boolean;
  /** undefined: generation goes on; a string: it stops and keeps this. */
  keep?: string;
}

const cases: FilterCase[] = [
  { name: 'max lines: within limit', filter: maxLinesFilter(3), text: 'a\nb\nc', keep: undefined },
  { name: 'max lines: a 4th line starts', filter: maxLinesFilter(3), text: 'a\nb\nc\nd', keep: 'a\nb\nc' },
  { name: 'max lines: single-line mode stops at the newline', filter: maxLinesFilter(1), text: 'foo()\n', keep: 'foo()' },
  { name: 'max lines: default constant', filter: maxLinesFilter(), text: 'x\n'.repeat(MAX_COMPLETION_LINES + 1), keep: Array(MAX_COMPLETION_LINES).fill('x').join('\n') },
  { name: 'suffix overlap: next suffix line regenerated', filter: suffixOverlapFilter('\n    return x\n}'), text: 'y = 1\n    return x\n', keep: 'y = 1' },
  { name: 'suffix overlap: partial last line is not judged yet', filter: suffixOverlapFilter('\n    return x\n'), text: 'y = 1\n    return x', keep: undefined },
  { name: 'suffix overlap: partial last line judged when final', filter: suffixOverlapFilter('\n    return x\n'), text: 'y = 1\n    return x', final: true, keep: 'y = 1' },
  { name: 'suffix overlap: closing brace already in suffix', filter: suffixOverlapFilter('\n}\n'), text: '  a();\n}\n', keep: '  a();' },
  { name: 'suffix overlap: deeper-indented brace is new code', filter: suffixOverlapFilter('\n}\n'), text: '  if (a) {\n  }\n', keep: undefined },
  { name: 'suffix overlap: rest of cursor line regenerated', filter: suffixOverlapFilter(');\nnext'), text: 'a, b);\n', keep: 'a, b' },
  { name: 'suffix overlap: unrelated text', filter: suffixOverlapFilter('\n    return x\n'), text: 'y = 1\nz = 2\n', keep: undefined },
  { name: 'suffix overlap: empty suffix never stops', filter: suffixOverlapFilter(''), text: 'a\n\nb\n', final: true, keep: undefined },
  { name: 'repeated lines: twice is fine', filter: repeatedLinesFilter(3), text: 'x = 1\nx = 1\n', keep: undefined },
  { name: 'repeated lines: third time stops, first kept', filter: repeatedLinesFilter(3), text: 'a\nx = 1\nx = 1\nx = 1\n', keep: 'a\nx = 1' },
  { name: 'repeated lines: blank lines do not count', filter: repeatedLinesFilter(3), text: 'a\n\n\n\nb\n', keep: undefined },
  { name: 'repeated lines: not consecutive', filter: repeatedLinesFilter(3), text: 'x\ny\nx\ny\nx\n', keep: undefined },
  { name: 'repeated chunk: a loop inside a line is cut after its first chunk', filter: repeatedChunkFilter(), text: "eps ', ', ', ', ', '", keep: "eps ', '" },
  { name: 'repeated chunk: method-chain loop', filter: repeatedChunkFilter(), text: 'key.fun.fun.fun.fun.fun', keep: 'key.fun' },
  { name: 'repeated chunk: four repeats are still code', filter: repeatedChunkFilter(), text: '[0, 0, 0, 0]', keep: undefined },
  { name: 'repeated chunk: punctuation rulers are code', filter: repeatedChunkFilter(), text: '# ----------------', keep: undefined },
  { name: 'repeated chunk: a loop that ended is no longer judged', filter: repeatedChunkFilter(), text: 'ababababab c', keep: undefined },
  { name: 'brackets: balanced inside completion', filter: unbalancedBracketFilter(''), text: 'f(a[1], {b: 2})', keep: undefined },
  { name: 'brackets: closer of a prefix opener is allowed', filter: unbalancedBracketFilter('call(x, '), text: 'y)', keep: undefined },
  { name: 'brackets: closer with nothing open is cut', filter: unbalancedBracketFilter('x = '), text: '1)\n', keep: '1' },
  { name: 'brackets: mismatched closer is cut', filter: unbalancedBracketFilter('a = ['), text: 'f(1]', keep: 'f(1' },
  { name: 'brackets: prefix opener closed once only', filter: unbalancedBracketFilter('if (a'), text: ') {}) ', keep: ') {}' },
  { name: 'brackets: brackets in strings ignored', filter: unbalancedBracketFilter('s = '), text: '")" + \'}\'', keep: undefined },
];

for (const c of cases) {
  test(`filter: ${c.name}`, () => {
    const v = c.filter(c.text, c.final ?? false);
    if (c.keep === undefined) assert.equal(v.stop, false, JSON.stringify(v));
    else assert.deepEqual(v.stop ? v.keep : '(no stop)', c.keep);
  });
}

test('openBrackets: strings, closed pairs and a cut-off window', () => {
  assert.deepEqual(openBrackets('function f(a) {\n  const s = "{(";\n  g(['), ['}', ')', ']']);
  assert.deepEqual(openBrackets('}) x = (1'), [')']);
});

test('runFilters keeps the shortest cut; defaultFilters go single-line when text follows the cursor', () => {
  const filters = defaultFilters({ prefix: 'print(', suffix: ')\n' });
  assert.deepEqual(runFilters(filters, '"hi")\nmore', false), { stop: true, keep: '"hi"', reason: 'suffix-overlap' });
  const multi = defaultFilters({ prefix: 'def f():\n', suffix: '\n' });
  assert.equal(runFilters(multi, '    a = 1\n    b = 2\n', false).stop, false);
});

const prefilterCases: { name: string; text: string; offset: number; languageId?: string; opts?: object; reason: SkipReason | undefined }[] = [
  { name: 'end of line', text: 'const x = ', offset: 10, reason: undefined },
  { name: 'before a closing paren', text: 'f()', offset: 2, reason: undefined },
  { name: 'disabled', text: 'a', offset: 1, opts: { enabled: false }, reason: 'completions-disabled' },
  { name: 'language disabled', text: 'a', offset: 1, languageId: 'markdown', opts: { disabledLanguages: ['markdown'] }, reason: 'language-disabled' },
  { name: 'offset past end', text: 'abc', offset: 4, reason: 'offset-out-of-range' },
  { name: 'negative offset', text: 'abc', offset: -1, reason: 'offset-out-of-range' },
  { name: 'file too large', text: 'x'.repeat(MAX_FILE_CHARS + 1), offset: 0, reason: 'file-too-large' },
  { name: 'custom size limit', text: 'abc ', offset: 4, opts: { maxFileChars: 3 }, reason: 'file-too-large' },
  { name: 'minified line', text: 'y'.repeat(MAX_CURSOR_LINE_CHARS + 1) + ' ', offset: MAX_CURSOR_LINE_CHARS + 1, reason: 'line-too-long' },
  { name: 'binary', text: 'a\0b ', offset: 4, reason: 'binary-content' },
  { name: 'mid-word', text: 'foobar', offset: 3, reason: 'mid-word' },
  { name: 'before an identifier', text: 'x = _y', offset: 4, reason: 'mid-word' },
  { name: 'word char on the next line is fine', text: 'a\nb', offset: 1, reason: undefined },
];

for (const c of prefilterCases) {
  test(`prefilter: ${c.name}`, () => {
    assert.equal(prefilter({ text: c.text, offset: c.offset, languageId: c.languageId ?? 'typescript' }, c.opts), c.reason);
  });
}

test('cursorWindows: small document and line-aligned cuts', () => {
  assert.deepEqual(cursorWindows('ab\ncd ef\ngh', 5), { prefix: 'ab\ncd', suffix: ' ef\ngh', linePrefix: 'cd', lineSuffix: ' ef' });
  const doc = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
  const offset = doc.indexOf('line 50') + 4;
  const w = cursorWindows(doc, offset, { prefixChars: 40, suffixChars: 30 });
  assert.ok(w.prefix.length <= 40 && w.prefix.startsWith('line ') && w.prefix.endsWith('line'), w.prefix);
  assert.ok(w.suffix.length <= 30 && w.suffix.startsWith(' 50\n') && !w.suffix.endsWith('\n'), w.suffix);
  assert.equal(doc.slice(offset - w.prefix.length, offset + w.suffix.length), w.prefix + w.suffix);
});

test('postprocess: trims trailing whitespace, drops empty and suffix-only completions', () => {
  const cases: [string, string, string | undefined][] = [
    ['foo()  \n\n', '', 'foo()'],
    ['   \n\t', '', undefined],
    ['', 'x', undefined],
    ['}', '\n}\n', undefined],
    ['  return 1', '\n}', '  return 1'],
  ];
  for (const [completion, suffix, expected] of cases) assert.equal(postprocessCompletion(completion, suffix), expected, JSON.stringify(completion));
});
