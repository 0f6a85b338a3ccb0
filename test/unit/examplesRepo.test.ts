/**
 * The examples stage on a small multi-language repository, real demo tokenizer and real tree-sitter grammars:
 * syntax spans and docstring → body examples reach the shards, masks cover exactly the middle + end token, and
 * holdout code never reaches a training shard — not even as retrieved cross-file context.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDemoModel, tempDir } from '../helpers/paths';
import { loadTokenizer } from '../../server/src/models/tokenizer';
import { detectFamily } from '../../server/src/examples/families';
import { buildExampleSets, buildShards, type ShardInputFile } from '../../server/src/examples/shards';
import { GO_SAMPLE, PYTHON_SAMPLE, RUST_SAMPLE, TYPESCRIPT_SAMPLE } from '../helpers/syntaxSamples';

const SEQ_LEN = 512;
const HOLDOUT_MARKER = 'HOLDOUT_ONLY_7731';

/** The train files call into the holdout module, so BM25 would rank its chunks first if they were indexed. */
const REPO: ShardInputFile[] = [
  { path: 'model/net.py', text: PYTHON_SAMPLE, split: 'train' },
  { path: 'model/use_scaler.py', text: 'from model.scaler import quokka_scaler\n\n\ndef scaled(values):\n    return [quokka_scaler(v, factor=2) for v in values]\n\n\ndef rescaled(values):\n    return quokka_scaler(sum(values), factor=3)\n', split: 'train' },
  { path: 'src/config.ts', text: TYPESCRIPT_SAMPLE, split: 'train' },
  { path: 'store/store.go', text: GO_SAMPLE, split: 'train' },
  { path: 'src/words.rs', text: RUST_SAMPLE, split: 'train' },
  { path: 'model/scaler.py', text: `# ${HOLDOUT_MARKER}\ndef quokka_scaler(value, factor):\n    """Scales a value (${HOLDOUT_MARKER})."""\n    return value * factor\n`, split: 'holdout' },
];

function setup() {
  const tok = loadTokenizer(ensureDemoModel());
  return { tok, family: detectFamily(tok, 'demo') };
}

function decodedTrain(dir: string, tok: ReturnType<typeof loadTokenizer>): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  return index.train.flatMap((n: string) =>
    fs.readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => tok.decode(JSON.parse(l).ids)),
  );
}

test('holdout code never reaches training shards, not even as retrieved context (and the check can fail)', async () => {
  const { tok, family } = setup();
  const out = tempDir('shards-holdout-ctx');
  const summary = await buildShards(REPO, tok, family, { outDir: out, seed: 5, seqLen: SEQ_LEN, contextRate: 1 });
  const train = decodedTrain(out, tok);
  assert.ok(summary.withContext > 0 && train.some((t) => t.includes('<|file_sep|>')), 'context reached training prompts');
  assert.ok(summary.examples.eval > 0);
  assert.ok(train.every((t) => !t.includes(HOLDOUT_MARKER) && !t.includes('return value * factor')), 'holdout text in a train shard');

  // Control: the same file as a TRAIN file is retrieved into other files' prompts, so the check above is real.
  const leaky = REPO.map((f) => ({ ...f, split: 'train' as const }));
  await buildShards(leaky, tok, family, { outDir: out, seed: 5, seqLen: SEQ_LEN, contextRate: 1 });
  const withScaler = decodedTrain(out, tok).filter((t) => t.includes('<|file_sep|>model/scaler.py\n'));
  assert.ok(withScaler.some((t) => t.includes('<|file_sep|>model/use_scaler.py\n<|fim_prefix|>')), 'scaler.py is context for use_scaler.py');
});

test('masks cover exactly the middle + end token; syntax and docstring examples are drawn', async () => {
  const { tok, family } = setup();
  const sets = await buildExampleSets(REPO, tok, family, { seed: 9, seqLen: SEQ_LEN });
  assert.deepEqual(sets.notices, []);
  const end = tok.tokenId(family.endOfMiddle)!;
  const fimMiddle = tok.tokenId(family.fimMiddle)!;
  const spans = new Map<string, number>();
  for (const e of [...sets.train, ...sets.eval]) {
    assert.equal(e.ids.length, e.mask.length);
    assert.ok(e.ids.length <= SEQ_LEN);
    if (e.kind === 'continuation') {
      assert.ok(e.mask.every((m) => m === 1));
      continue;
    }
    spans.set(e.span!, (spans.get(e.span!) ?? 0) + 1);
    const text = REPO.find((f) => f.path === e.path)!.text;
    const [start, stop] = e.middleRange!;
    const middleIds = tok.encode(text.slice(start, stop));
    const promptLength = e.ids.length - middleIds.length - 1;
    assert.equal(e.ids[promptLength - 1], fimMiddle, 'the prompt ends with the FIM middle token');
    assert.deepEqual(e.ids.slice(promptLength), [...middleIds, end], `${e.path} ${e.span}: targets are the middle + end`);
    assert.deepEqual(e.mask, e.ids.map((_, i) => (i < promptLength ? 0 : 1)), 'mask is 0 on the prompt, 1 on middle + end');
  }
  for (const kind of ['line', 'statement', 'syntax-block', 'function-body', 'arguments', 'doc-function', 'doc-class']) {
    assert.ok((spans.get(kind) ?? 0) > 0, `${kind} examples drawn (${JSON.stringify([...spans])})`);
  }
  // The nn.Module docstring → body example: prompt = signature + docstring, target = the whole class body.
  const tinyNet = sets.train.find((e) => e.span === 'doc-class' && e.path === 'model/net.py')!;
  const promptText = tok.decode(tinyNet.ids.slice(0, tinyNet.mask.indexOf(1)));
  assert.match(promptText, /class TinyNet\(nn\.Module\):\n {4}"""A two-layer perceptron with a residual connection\."""<\|fim_suffix\|>/);
  assert.match(tok.decode(tinyNet.ids.slice(tinyNet.mask.indexOf(1))), /def __init__[\s\S]*def forward[\s\S]*<\|endoftext\|>$/);
});

test('syntax spans and context are deterministic for a seed; the shard lines name their span', async () => {
  const { tok, family } = setup();
  const [a, b] = [tempDir('shards-syn-a'), tempDir('shards-syn-b')];
  const sa = await buildShards(REPO, tok, family, { outDir: a, seed: 2, seqLen: SEQ_LEN });
  const sb = await buildShards([...REPO].reverse(), tok, family, { outDir: b, seed: 2, seqLen: SEQ_LEN });
  const read = (d: string) => fs.readFileSync(path.join(d, 'train-00000.jsonl'), 'utf8');
  assert.equal(read(a), read(b));
  assert.deepEqual(sa.spans, sb.spans);
  const first = JSON.parse(read(a).split('\n')[0]);
  assert.equal(typeof first.span === 'string' || first.kind === 'continuation', true);
});
