/**
 * Stable serving prompts: the prefix window's start snaps to a grid, the prefix is fitted to its token budget in
 * whole steps, and consecutive keystrokes give prompts that share everything but their end, so the real demo-model
 * engine prefills only the new tokens.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cursorWindows, nextLineStart, stablePrefixStart, type WindowBudget } from '../../server/src/completion/context';
import { afterTyped, ANCHORED_LINE_TOKENS, fitPrefixStart, StablePromptBuilder } from '../../server/src/completion/stablePrompt';
import { OrtEngine } from '../../server/src/completion/engine/ortEngine';
import { detectFamily } from '../../server/src/examples/families';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';
import { ensureDemoModel } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

/** 200 lines of 10 characters ("line 0001\n"): line starts at multiples of 10. */
const DOC = Array.from({ length: 200 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('');

const START_CASES: { name: string; offset: number; budget: WindowBudget; start: number }[] = [
  { name: 'whole prefix fits', offset: 95, budget: { prefixChars: 100, suffixChars: 10 }, start: 0 },
  { name: 'exactly the budget', offset: 100, budget: { prefixChars: 100, suffixChars: 10 }, start: 0 },
  { name: 'one over: first grid point', offset: 101, budget: { prefixChars: 100, suffixChars: 10, prefixStepChars: 50 }, start: 50 },
  { name: 'same grid point 49 chars later', offset: 150, budget: { prefixChars: 100, suffixChars: 10, prefixStepChars: 50 }, start: 50 },
  { name: 'next grid point', offset: 151, budget: { prefixChars: 100, suffixChars: 10, prefixStepChars: 50 }, start: 100 },
  { name: 'grid point inside a line: next line start', offset: 133, budget: { prefixChars: 100, suffixChars: 10, prefixStepChars: 32 }, start: 70 },
  { name: 'step capped at half the window', offset: 101, budget: { prefixChars: 100, suffixChars: 10, prefixStepChars: 5000 }, start: 50 },
];

for (const c of START_CASES) {
  test(`stablePrefixStart: ${c.name}`, () => {
    assert.equal(stablePrefixStart(DOC, c.offset, c.budget), c.start);
    assert.ok(c.offset - c.start <= c.budget.prefixChars, 'never over the budget');
  });
}

test('stablePrefixStart: a grid point with no line start before the cursor stays mid-line', () => {
  const oneLine = 'x'.repeat(500);
  assert.equal(stablePrefixStart(oneLine, 450, { prefixChars: 200, suffixChars: 10, prefixStepChars: 64 }), 256);
  assert.equal(nextLineStart('ab\ncd', 0, 5), 0);
  assert.equal(nextLineStart('ab\ncd', 1, 5), 3);
});

test('cursorWindows: typing 300 characters moves the prefix start at most once per step', () => {
  const budget = { prefixChars: 1000, suffixChars: 100, prefixStepChars: 128 };
  const starts = new Set<number>();
  let typed = '';
  for (let i = 0; i < 300; i++) {
    typed += 'abcdefghij\n'[i % 11];
    const text = DOC + typed + '\nrest\n';
    const offset = DOC.length + typed.length;
    const w = cursorWindows(text, offset, budget);
    starts.add(offset - w.prefix.length);
    assert.ok(w.prefix.length <= budget.prefixChars);
  }
  assert.ok(starts.size <= Math.ceil(300 / budget.prefixStepChars) + 1, `${starts.size} different starts`);
});

/** One token per 4 characters (rounded up): a tokenizer whose counts are easy to reason about. */
const quarter = (t: string) => Math.ceil(t.length / 4);

const FIT_CASES: { name: string; prefix: string; maxTokens: number; step: number; dropped: number }[] = [
  { name: 'fits: nothing dropped', prefix: DOC.slice(0, 400), maxTokens: 100, step: 50, dropped: 0 },
  { name: 'one token over: one step', prefix: DOC.slice(0, 404), maxTokens: 100, step: 50, dropped: 50 },
  { name: 'many steps over: the smallest fitting step', prefix: DOC.slice(0, 1000), maxTokens: 100, step: 50, dropped: 600 },
  { name: 'steps land on line starts', prefix: DOC.slice(0, 1000), maxTokens: 100, step: 64, dropped: 640 },
  { name: 'budget 0 drops all', prefix: DOC.slice(0, 100), maxTokens: 0, step: 50, dropped: 100 },
];

for (const c of FIT_CASES) {
  test(`fitPrefixStart: ${c.name}`, () => {
    const dropped = fitPrefixStart(c.prefix, c.maxTokens, quarter, c.step);
    assert.equal(dropped, c.dropped);
    assert.ok(quarter(c.prefix.slice(dropped)) <= c.maxTokens);
  });
}

test('fitPrefixStart: the cut does not move while lines are added, until the budget overflows', () => {
  const cuts: number[] = [];
  for (let lines = 60; lines <= 90; lines++) cuts.push(fitPrefixStart(DOC.slice(0, lines * 10), 150, quarter, 100));
  // 600 chars = 150 tokens fit; then the cut jumps by 100 chars once per 10 lines added.
  assert.deepEqual([...new Set(cuts)], [0, 100, 200, 300]);
});

let tok: CodeTokenizer;
let engine: OrtEngine;
const SOURCE = Array.from({ length: 120 }, (_, i) => `def handler_${i}(request):\n    return respond(request, code=${i})\n`).join('');
const SUFFIX = '\n\ndef main():\n    serve(handlers)\n';
const TYPED = '    value = compute(items[0])';

before(async () => {
  tok = loadTokenizer(ensureDemoModel());
  engine = await OrtEngine.load(ensureDemoOnnx());
});

after(async () => {
  await engine?.dispose();
});

test('consecutive keystrokes share the prompt but its end, and the engine prefills only that end', async () => {
  const budget = { maxPromptTokens: 512, prefixShare: 0.7, suffixShare: 0.25 };
  const prompts = new StablePromptBuilder(tok, detectFamily(tok, 'demo'), budget);
  const windowBudget = { prefixChars: 4000, suffixChars: 1000 };
  let previous: number[] | undefined;
  const prefilled: number[] = [];
  // Keystrokes inside the indentation move the prefix's end (the indentation ends the prefix, as in training):
  // editors insert it at once on Enter (see the next test). Measured here: keystrokes in the line's content.
  const indent = TYPED.length - TYPED.trimStart().length;
  for (let i = indent + 1; i <= TYPED.length; i += 3) {
    // A new line typed above the suffix: the document grows by one character per keystroke.
    const text = SOURCE + TYPED.slice(0, i) + SUFFIX;
    const { prefix, suffix } = cursorWindows(text, SOURCE.length + i, windowBudget);
    const prompt = prompts.build({ prefix, suffix, path: 'app.py' });
    assert.ok(prompt.ids.length <= budget.maxPromptTokens, `${prompt.ids.length} tokens`);
    assert.ok(prompt.droppedPrefixChars > 0, 'the window was over the token budget: the prefix was fitted');
    const r = await engine.generate(prompt.ids, { maxNewTokens: 2, stopIds: [] });
    if (previous) {
      let common = 0;
      while (common < previous.length && previous[common] === prompt.ids[common]) common++;
      assert.ok(prompt.ids.length - common <= ANCHORED_LINE_TOKENS, `keystroke ${i}: only the typed line changes (${prompt.ids.length - common} tokens)`);
      assert.equal(r.reusedTokens, Math.min(common, prompt.ids.length - 1), 'the engine reused the whole shared start');
      prefilled.push(r.prefilledTokens);
    }
    previous = prompt.ids;
  }
  assert.ok(Math.max(...prefilled) <= 16, `prefilled per keystroke: ${prefilled.join(', ')}`);
});

test('a new line keeps the prompt start: only the last line and the suffix are prefilled again', () => {
  const budget = { maxPromptTokens: 512, prefixShare: 0.7, suffixShare: 0.25 };
  const prompts = new StablePromptBuilder(tok, detectFamily(tok, 'demo'), budget);
  const windowBudget = { prefixChars: 4000, suffixChars: 1000 };
  const at = (typed: string) => {
    const text = SOURCE + typed + SUFFIX;
    return prompts.build({ ...cursorWindows(text, SOURCE.length + typed.length, windowBudget), path: 'app.py' });
  };
  const before = at(TYPED);
  const after = at(TYPED + '\n    ');
  let common = 0;
  while (before.ids[common] === after.ids[common]) common++;
  const suffixTokens = tok.encode(SUFFIX).length;
  assert.ok(after.ids.length - common <= suffixTokens + tok.encode(TYPED).length + 8, `${after.ids.length - common} tokens changed`);
  assert.equal(after.anchoredChars, 0, 'the new line\'s indentation ends the prefix, as in training');
  assert.equal(after.pendingText, '');
});

const AFTER_TYPED_CASES: { name: string; generated: string; pending: string; completion: string }[] = [
  { name: 'nothing pending', generated: ' foo()', pending: '', completion: ' foo()' },
  { name: 'pending space written first', generated: ' foo()', pending: ' ', completion: 'foo()' },
  { name: 'pending tab and space', generated: '\t foo', pending: '\t ', completion: 'foo' },
  { name: 'only part of the pending blanks yet', generated: ' ', pending: '  ', completion: '' },
  { name: 'nothing generated yet', generated: '', pending: ' ', completion: '' },
  { name: 'model went on with a newline', generated: '\n    bar', pending: ' ', completion: '\n    bar' },
  { name: 'model wrote fewer blanks than typed', generated: ' x', pending: '  ', completion: 'x' },
];

for (const c of AFTER_TYPED_CASES) {
  test(`afterTyped: ${c.name}`, () => {
    assert.equal(afterTyped(c.generated, c.pending), c.completion);
  });
}

test('the typed line after its indentation follows the middle token; trailing blanks are pending', () => {
  const prompts = new StablePromptBuilder(tok, detectFamily(tok, 'demo'), { maxPromptTokens: 512, prefixShare: 0.7, suffixShare: 0.25 });
  const cases: { typed: string; anchored: number; pending: string }[] = [
    { typed: '    ', anchored: 0, pending: '' },
    { typed: '    total', anchored: 5, pending: '' },
    { typed: '    total = ', anchored: 7, pending: ' ' },
    { typed: '\tx =\t', anchored: 3, pending: '\t' },
    { typed: '', anchored: 0, pending: '' },
  ];
  for (const c of cases) {
    const p = prompts.build({ prefix: 'def f(a):\n' + c.typed, suffix: '\n', path: 'f.py' });
    assert.equal(p.anchoredChars, c.anchored, JSON.stringify(c.typed));
    assert.equal(p.pendingText, c.pending, JSON.stringify(c.typed));
  }
});
