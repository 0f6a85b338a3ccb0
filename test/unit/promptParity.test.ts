/**
 * Training/serving parity: the prompt part of every FIM training example is exactly what the serving path
 * (buildFimPrompt) produces for the same editor state, token for token, for every model family. The real demo
 * tokenizer covers qwen2.5-coder; the others use a fake tokenizer that has that family's special tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDemoModel } from '../helpers/paths';
import { fakeTokenizerFor } from '../helpers/fakeTokenizer';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';
import { detectFamily, FAMILIES, type ModelFamily } from '../../server/src/examples/families';
import { buildFimPrompt, type ContextSnippet } from '../../server/src/examples/promptBuilder';
import { buildFimExample, trainingPromptBudget } from '../../server/src/examples/trainingExample';

interface EditorState {
  readonly name: string;
  readonly prefix: string;
  readonly suffix: string;
  readonly middle: string;
  readonly path?: string;
  readonly context?: readonly ContextSnippet[];
}

const LONG_PREFIX = Array.from({ length: 80 }, (_, i) => `const v${i} = compute(${i}, "é🎉");\n`).join('');

const STATES: readonly EditorState[] = [
  { name: 'mid-line', prefix: 'function add(a, b) {\n  return a', suffix: ';\n}\n', middle: ' + b', path: 'src/add.js' },
  { name: 'empty suffix', prefix: 'def greet(name):\n    ', suffix: '', middle: 'return f"hi {name}"\n' },
  { name: 'empty prefix', prefix: '', suffix: '\nexport default x;\n', middle: 'const x = 1;' },
  {
    name: 'with context',
    prefix: 'import { parse } from "./parser";\nconst ast = ',
    suffix: '\nconsole.log(ast);\n',
    middle: 'parse(source);',
    path: 'src/main.ts',
    context: [{ path: 'src/parser.ts', text: 'export function parse(s: string): Ast {\n  return new Parser(s).run();\n}' }],
  },
  { name: 'control strings in code', prefix: 'tokens = ["<|fim_middle|>", "<fim_suffix>", "▁<MID>"]\nx = ', suffix: '\n', middle: 'tokens[0]' },
  { name: 'long prefix (truncated)', prefix: LONG_PREFIX, suffix: 'return v79;\n'.repeat(30), middle: 'const v80 = compute(80);', path: 'src/long.ts' },
];

function tokenizerFor(family: ModelFamily, demo: CodeTokenizer): CodeTokenizer {
  return family.id === 'qwen2.5-coder' ? demo : fakeTokenizerFor(family);
}

for (const family of FAMILIES) {
  test(`prompt parity for ${family.id}`, () => {
    const tok = tokenizerFor(family, loadTokenizer(ensureDemoModel()));
    assert.equal(detectFamily(tok, family.id).id, family.id, 'the tokenizer is recognised as this family');
    for (const state of STATES) {
      for (const seqLen of [4096, 160]) {
        const example = buildFimExample(tok, family, state, seqLen);
        assert.ok(example, `${state.name}: example built at seqLen ${seqLen}`);
        const middleIds = tok.encode(state.middle);
        const prompt = example.ids.slice(0, example.promptLength);
        // Serving with the training budget gives the same prompt, truncation included.
        const serving = buildFimPrompt(tok, family, state, trainingPromptBudget(seqLen, middleIds.length));
        assert.deepEqual(prompt, serving.ids, `${state.name} @${seqLen}: prompt differs from serving`);
        if (seqLen === 4096 && state.name !== 'long prefix (truncated)') {
          // Short states are not truncated: identical to the serving call with its default budget.
          assert.deepEqual(prompt, buildFimPrompt(tok, family, state).ids, `${state.name}: differs from default serving prompt`);
        }
        assert.ok(example.ids.length <= seqLen);
        // Targets: exactly the middle and the end-of-middle token.
        assert.deepEqual(example.ids.slice(example.promptLength), [...middleIds, serving.endOfMiddleId]);
        assert.deepEqual(example.mask, example.ids.map((_, i) => (i < example.promptLength ? 0 : 1)));
        assert.equal(example.mask.filter((m) => m === 1).length, middleIds.length + 1);
        assert.equal(prompt[prompt.length - 1], tok.tokenId(family.fimMiddle));
      }
    }
  });
}

test('the truncated state really is truncated at a small seqLen', () => {
  const tok = loadTokenizer(ensureDemoModel());
  const family = detectFamily(tok, 'demo');
  const state = STATES[STATES.length - 1];
  const example = buildFimExample(tok, family, state, 160)!;
  assert.ok(tok.encode(state.prefix).length > example.promptLength, 'prefix was cut to fit');
  assert.ok(example.ids.length <= 160);
});
