/**
 * Syntax-aware spans with the real tree-sitter runtime and grammars: every shipped grammar loads (its ABI matches
 * the runtime), spans of every kind are found in Python, TypeScript, Go and Rust, and every span is a syntax unit
 * of the kind it claims: re-parsing the file finds a node of an expected type exactly there, and argument lists and
 * function bodies also parse on their own inside a minimal wrapper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'web-tree-sitter';
import { GRAMMAR_FILES, parseFile, parseText as parseOrNull, syntaxLanguageOf, type SyntaxLanguage } from '../../server/src/syntax/grammars';
import { docBodyTargets, SYNTAX_SPAN_KINDS, syntaxSpans, type SyntaxSpan } from '../../server/src/syntax/spans';
import { planFileExamples } from '../../server/src/examples/plan';
import { mulberry32 } from '../../server/src/examples/prng';
import { GO_SAMPLE, JAVA_SAMPLE, PYTHON_SAMPLE, RUST_SAMPLE, TYPESCRIPT_SAMPLE } from '../helpers/syntaxSamples';

const SAMPLES: Record<string, { path: string; text: string }> = {
  python: { path: 'model/net.py', text: PYTHON_SAMPLE },
  typescript: { path: 'src/config.ts', text: TYPESCRIPT_SAMPLE },
  go: { path: 'store/store.go', text: GO_SAMPLE },
  rust: { path: 'src/words.rs', text: RUST_SAMPLE },
};

/** Node types each span kind may come from, written independently of syntax/nodeTypes.ts. */
const EXPECTED: Record<string, Record<SyntaxSpan['kind'], RegExp>> = {
  python: { statement: /_statement$|_definition$/, 'syntax-block': /^block$/, 'function-body': /^block$/, arguments: /^argument_list$/ },
  typescript: { statement: /_statement$|_declaration$/, 'syntax-block': /^statement_block$/, 'function-body': /^statement_block$/, arguments: /^arguments$/ },
  go: { statement: /_statement$|_declaration$|^import_declaration$/, 'syntax-block': /^block$/, 'function-body': /^block$/, arguments: /^argument_list$/ },
  rust: { statement: /_statement$|_declaration$|_item$/, 'syntax-block': /^block$/, 'function-body': /^block$/, arguments: /^arguments$/ },
};

/** Wrappers in which a span's text alone must parse without errors. */
const STANDALONE: Record<string, Partial<Record<SyntaxSpan['kind'], (middle: string) => string>>> = {
  python: { arguments: (m) => `f(${m})\n`, 'function-body': (m) => `def f():\n    ${m}\n` },
  typescript: { arguments: (m) => `f(${m});`, 'function-body': (m) => `function f() {${m}}` },
  go: { arguments: (m) => `package p\nvar _ = f(${m})\n`, 'function-body': (m) => `package p\nfunc f() {${m}}\n` },
  rust: { arguments: (m) => `fn g() { f(${m}); }`, 'function-body': (m) => `fn f() {${m}}` },
};

async function parseText(lang: SyntaxLanguage, text: string) {
  const tree = await parseOrNull(lang, text);
  assert.ok(tree, `${lang} parsed`);
  return tree;
}

/** Nodes exactly at [start, end), or whose interior between their first and last child is. */
function nodesAt(root: Node, start: number, end: number): Node[] {
  const found: Node[] = [];
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    const inner = n.childCount >= 2 ? [n.firstChild!.endIndex, n.lastChild!.startIndex] : [-1, -1];
    if ((n.startIndex === start && n.endIndex === end) || (inner[0] === start && inner[1] === end)) found.push(n);
    for (const c of n.children) if (c && c.startIndex <= start && c.endIndex >= end) stack.push(c);
  }
  return found;
}

test('every shipped grammar loads with the runtime (ABI compatible) and parses', async () => {
  for (const lang of Object.keys(GRAMMAR_FILES) as SyntaxLanguage[]) {
    const tree = await parseText(lang, lang === 'python' ? 'x = 1\n' : lang === 'go' ? 'package p\n' : lang === 'java' ? 'class A {}\n' : 'let x = 1;\n');
    assert.equal(tree.rootNode.hasError, false, `${lang} parses a trivial file`);
    tree.delete();
  }
  assert.equal(syntaxLanguageOf('a/b.PY'), 'python');
  assert.equal(syntaxLanguageOf('Makefile'), undefined);
  assert.equal(await parseFile('notes.txt', 'plain text'), undefined, 'no grammar: line spans only');
});

for (const [lang, sample] of Object.entries(SAMPLES)) {
  test(`${lang}: spans of every kind are valid syntax units`, async () => {
    const parsed = (await parseFile(sample.path, sample.text))!;
    assert.ok(parsed, 'parsed');
    const spans = syntaxSpans(parsed, sample.text);
    parsed.tree.delete();
    const reparsed = await parseText(parsed.lang, sample.text);
    assert.equal(reparsed.rootNode.hasError, false, 'the sample is valid code');
    for (const kind of SYNTAX_SPAN_KINDS) assert.ok(spans.some((s) => s.kind === kind), `${lang} has ${kind} spans`);
    for (const span of spans) {
      const middle = sample.text.slice(span.start, span.end);
      const node = nodesAt(reparsed.rootNode, span.start, span.end).find((n) => n.type === span.nodeType);
      assert.ok(node, `${span.kind} ${JSON.stringify(middle)} is a ${span.nodeType} node or its interior`);
      assert.match(node.type, EXPECTED[lang][span.kind], `${span.kind} from a ${node.type}`);
      assert.equal(node.hasError, false);
      const wrap = STANDALONE[lang][span.kind];
      if (wrap) {
        const alone = await parseText(parsed.lang, wrap(middle));
        assert.equal(alone.rootNode.hasError, false, `${span.kind} parses alone: ${wrap(middle)}`);
        alone.delete();
      }
    }
    reparsed.delete();
  });
}

test('planned syntax FIM examples cut the file exactly at the unit (prefix + middle + suffix = file)', async () => {
  for (const sample of Object.values(SAMPLES)) {
    const parsed = (await parseFile(sample.path, sample.text))!;
    const syntax = { spans: syntaxSpans(parsed, sample.text), docTargets: docBodyTargets(parsed, sample.text) };
    parsed.tree.delete();
    const seen = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      for (const plan of planFileExamples(sample.text, mulberry32(seed), 1024, 1, 8, { syntax })) {
        if (plan.kind !== 'fim') continue;
        seen.add(plan.span);
        assert.equal(plan.prefix + plan.middle + plan.suffix, sample.text, 'a small file is whole in every example');
        if (['line', 'rest-of-line', 'block'].includes(plan.span)) continue;
        const unit = [...syntax.spans, ...syntax.docTargets].find((s) => s.kind === plan.span && s.start === plan.prefix.length);
        assert.ok(unit && unit.end === plan.prefix.length + plan.middle.length, `${plan.span} middle is a found unit`);
      }
    }
    for (const kind of [...SYNTAX_SPAN_KINDS, 'line', 'doc-function']) assert.ok(seen.has(kind), `${sample.path}: ${kind} drawn`);
  }
});

test('docstring/comment → body targets: the prompt ends with signature + documentation, the middle is the body', async () => {
  const targetsOf = async (p: string, text: string) => {
    const parsed = (await parseFile(p, text))!;
    try {
      return docBodyTargets(parsed, text).map((t) => ({ kind: t.kind, prefixTail: text.slice(0, t.start).split('\n').slice(-3).join('\n'), middle: text.slice(t.start, t.end) }));
    } finally {
      parsed.tree.delete();
    }
  };
  const py = await targetsOf('net.py', PYTHON_SAMPLE);
  const tinyNet = py.find((t) => t.kind === 'doc-class');
  assert.ok(tinyNet, 'the nn.Module subclass with a docstring');
  assert.match(tinyNet.prefixTail, /class TinyNet\(nn\.Module\):\n\s+"""A two-layer perceptron/);
  assert.match(tinyNet.middle, /^\n\n {4}def __init__[\s\S]*return x \+ self\.fc2\(h\)$/);
  assert.ok(py.some((t) => t.kind === 'doc-function' && /# Sum of squares[^\n]*\ndef sum_squares\(values\):\n {4}$/.test(t.prefixTail)), 'comment above a def');
  assert.ok(py.some((t) => t.kind === 'doc-function' && t.middle.trim() === 'return sum(values) / len(values) if values else 0'));
  assert.ok(!py.some((t) => t.middle.includes('h = torch.relu') && t.kind === 'doc-function'), 'undocumented forward() is no target');

  const ts = await targetsOf('config.ts', TYPESCRIPT_SAMPLE);
  assert.ok(ts.some((t) => t.kind === 'doc-function' && t.prefixTail.endsWith('export function parseConfig(path: string): Map<string, string> {') && t.middle.trimEnd().endsWith('return out;')));
  assert.ok(ts.some((t) => t.kind === 'doc-class' && t.prefixTail.endsWith('export class Counter {')));
  const go = await targetsOf('s.go', GO_SAMPLE);
  assert.deepEqual(go.map((t) => t.kind), ['doc-function'], 'Get is documented, Sum is not');
  const rs = await targetsOf('w.rs', RUST_SAMPLE);
  assert.deepEqual(rs.map((t) => t.kind).sort(), ['doc-class', 'doc-function']);
  const java = await targetsOf('G.java', JAVA_SAMPLE);
  assert.ok(java.some((t) => t.kind === 'doc-function' && t.middle.includes('String.format')));
});

test('code with syntax errors yields no span that contains the error', async () => {
  const broken = 'def ok(x):\n    return x + 1\n\ndef broken(:\n    return (\n';
  const parsed = (await parseFile('b.py', broken))!;
  const spans = syntaxSpans(parsed, broken);
  parsed.tree.delete();
  assert.ok(spans.some((s) => broken.slice(s.start, s.end) === 'return x + 1'));
  assert.ok(spans.every((s) => s.end <= broken.indexOf('def broken')), 'nothing from the broken function');
});
