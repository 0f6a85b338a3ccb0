/**
 * Training/serving parity: the prompt part of every FIM training example is exactly what the serving path
 * (buildFimPrompt; with retrieval, buildEditorPrompt as completion/service.ts calls it) produces for the same editor
 * state, token for token, for every model family — retrieved cross-file context, syntax spans and docstring → body
 * examples included. The real demo tokenizer covers qwen2.5-coder; the others use a fake tokenizer that has that
 * family's special tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDemoModel } from '../helpers/paths';
import { fakeTokenizerFor } from '../helpers/fakeTokenizer';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';
import { detectFamily, FAMILIES, type ModelFamily } from '../../server/src/examples/families';
import { buildFimPrompt, DEFAULT_BUDGET, type ContextSnippet } from '../../server/src/examples/promptBuilder';
import { buildFimExample, trainingPromptBudget } from '../../server/src/examples/trainingExample';
import { buildEditorPrompt } from '../../server/src/examples/editorPrompt';
import { examplesOfFile, type ShardInputFile } from '../../server/src/examples/shards';
import { buildRetrievalIndex } from '../../server/src/retrieval/repoIndex';
import { parseFile } from '../../server/src/syntax/grammars';
import { docBodyTargets, syntaxSpans } from '../../server/src/syntax/spans';
import { cursorWindows } from '../../server/src/completion/context';
import { StablePromptBuilder } from '../../server/src/completion/stablePrompt';
import { GO_SAMPLE, PYTHON_SAMPLE, RUST_SAMPLE, TYPESCRIPT_SAMPLE } from '../helpers/syntaxSamples';

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

const REPO: ShardInputFile[] = [
  { path: 'model/net.py', text: PYTHON_SAMPLE, split: 'train' },
  { path: 'model/train.py', text: 'from model.net import TinyNet\n\n\ndef build(dim):\n    net = TinyNet(dim, hidden=32)\n    return net.train()\n', split: 'train' },
  { path: 'src/config.ts', text: TYPESCRIPT_SAMPLE, split: 'train' },
  { path: 'store/store.go', text: GO_SAMPLE, split: 'train' },
  { path: 'src/words.rs', text: RUST_SAMPLE, split: 'train' },
];
const PARITY_SEQ_LEN = 512;

for (const family of FAMILIES) {
  test(`prompt parity with retrieved context, syntax spans and docstring examples for ${family.id}`, async () => {
    const tok = tokenizerFor(family, loadTokenizer(ensureDemoModel()));
    const retrieval = buildRetrievalIndex(REPO);
    let withContext = 0;
    const spans = new Set<string>();
    for (const file of REPO) {
      const parsed = (await parseFile(file.path, file.text))!;
      const syntax = { spans: syntaxSpans(parsed, file.text), docTargets: docBodyTargets(parsed, file.text) };
      parsed.tree.delete();
      const examples = examplesOfFile(file, tok, family, 11, PARITY_SEQ_LEN, 1, 6, { syntax, retrieval, contextRate: 1 });
      for (const example of examples) {
        if (example.kind !== 'fim') continue;
        spans.add(example.span!);
        // The editor state the example stands for: the file without its middle, the cursor where the middle was.
        const [start, end] = example.middleRange!;
        const { prefix, suffix } = cursorWindows(file.text.slice(0, start) + file.text.slice(end), start);
        const middleIds = tok.encode(file.text.slice(start, end));
        const promptLength = example.mask.indexOf(1);
        const serving = buildEditorPrompt(tok, family, { prefix, suffix, path: file.path }, {
          budget: trainingPromptBudget(PARITY_SEQ_LEN, middleIds.length),
          retrieval,
          // The serving budget (RETRIEVAL_BUDGET_MS) only cuts a slow search short; on a loaded 2-core CI machine it
          // can, which would make this comparison flaky. Parity is about the prompt, so the search runs to the end.
          retrievalBudgetMs: Number.POSITIVE_INFINITY,
        });
        assert.deepEqual(example.ids.slice(0, promptLength), serving.ids, `${file.path} ${example.span}: prompt differs from serving`);
        assert.deepEqual(example.ids.slice(promptLength), [...middleIds, serving.endOfMiddleId], 'targets: the middle and the end token');
        assert.ok(serving.context.every((c) => c.path !== file.path), 'never the file itself as context');
        const promptText = tok.decode(serving.ids);
        if (serving.context.some((c) => promptText.includes(`${c.path}\n`))) withContext++;
      }
    }
    assert.ok(withContext > 10, `retrieved context reached prompts (${withContext})`);
    for (const kind of ['statement', 'function-body', 'arguments', 'doc-function', 'doc-class', 'line']) assert.ok(spans.has(kind), `${kind} examples`);
  });
}

/**
 * The serving prompt anchors the typed line after the FIM middle token (completion/stablePrompt.ts). For a `line`
 * training example (middle from the line's content start, indentation in the prefix), the serving prompt after typing
 * the middle's first k tokens — at each token boundary, a blank before the next word left pending — must be the
 * training sequence's first tokens: the model continues exactly the sequence it was trained on.
 */
test('anchored serving prompts are beginnings of the line example they continue', () => {
  const tok = loadTokenizer(ensureDemoModel());
  const family = detectFamily(tok, 'demo');
  const prefix = 'def area(width, height):\n    # Area of a rectangle.\n    ';
  const middle = 'return width * height  # square units';
  const suffix = '\n\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n';
  const example = buildFimExample(tok, family, { prefix, middle, suffix, path: 'geometry.py' }, 4096)!;
  const prompts = new StablePromptBuilder(tok, family, DEFAULT_BUDGET);
  const middleIds = tok.encode(middle);
  let checked = 0;
  for (let k = 0; k < middleIds.length; k++) {
    const typedIds = middleIds.slice(0, k);
    const typed = tok.decode(typedIds);
    if (tok.encode(typed).join() !== typedIds.join()) continue; // not a boundary that editor text reproduces
    const serving = prompts.build({ prefix: prefix + typed, suffix, path: 'geometry.py' });
    // A typed blank before the next word is pending, not encoded: one token fewer then.
    const pendingTokens = serving.pendingText ? tok.encode(serving.pendingText).length : 0;
    assert.deepEqual(serving.ids, example.ids.slice(0, example.promptLength + k - pendingTokens), `typed ${JSON.stringify(typed)}`);
    checked++;
  }
  assert.ok(checked >= middleIds.length / 2, `${checked} of ${middleIds.length} boundaries checked`);
});
