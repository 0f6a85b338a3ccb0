/** The examples stage: shard format, determinism, FIM spans and masks, holdout → eval only. Real demo tokenizer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDemoModel, tempDir } from '../helpers/paths';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';
import { detectFamily } from '../../server/src/examples/families';
import { buildShards, MAX_VIEWS_PER_WINDOW, ShardError, TARGET_TRAIN_EXAMPLES, trainingViews, type ShardInputFile } from '../../server/src/examples/shards';
import { planFileExamples } from '../../server/src/examples/plan';
import { mulberry32 } from '../../server/src/examples/prng';
import { harvest } from '../../server/src/harvest/harvest';
import { commitAll, git, outsideTempDir, removeDir, writeFiles } from '../helpers/gitFixture';
import { PLANTED_SECRETS, SECRETS_FILE } from '../helpers/secretsFixture';

const SEQ_LEN = 128;

function sourceFile(name: string, functions: number): string {
  const parts: string[] = [`// ${name}: generated for tests`];
  for (let i = 0; i < functions; i++) {
    parts.push(`export function ${name}${i}(values: number[]): number {`, '  let total = 0;', `  for (const v of values) total += v * ${i};`, '  return total;', '}', '');
  }
  return parts.join('\n');
}

const FILES: ShardInputFile[] = [
  { path: 'src/alpha.ts', text: sourceFile('alpha', 30), split: 'train' },
  { path: 'src/beta.ts', text: sourceFile('beta', 12), split: 'train' },
  { path: 'src/gamma.py', text: 'def gamma(x):\n    return [i * x for i in range(10)]\n\n'.repeat(20), split: 'train' },
  { path: 'src/held.ts', text: sourceFile('held', 10), split: 'holdout' },
];

function readShards(dir: string): { index: any; train: any[]; eval: any[] } {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const read = (names: string[]) =>
    names.flatMap((n) => fs.readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  return { index, train: read(index.train), eval: read(index.eval) };
}

function setup(): { tok: CodeTokenizer; family: ReturnType<typeof detectFamily> } {
  const tok = loadTokenizer(ensureDemoModel());
  return { tok, family: detectFamily(tok, 'demo') };
}

test('shards follow the documented format; eval comes from holdout files only; masks cover middle + end', async () => {
  const { tok, family } = setup();
  const out = tempDir('shards');
  const summary = await buildShards(FILES, tok, family, { outDir: out, seed: 7, seqLen: SEQ_LEN });
  const { index, train, eval: evalSet } = readShards(out);
  assert.equal(index.version, 1);
  assert.equal(index.family, 'qwen2.5-coder');
  assert.equal(index.tokenizer, tok.source);
  assert.deepEqual(index.examples, { train: train.length, eval: evalSet.length });
  assert.deepEqual(summary.examples, index.examples);
  assert.ok(train.length > 10 && evalSet.length > 0);
  assert.ok(train.every((e) => e.path !== 'src/held.ts'));
  assert.ok(evalSet.every((e) => e.path === 'src/held.ts'));

  const fimMiddle = tok.tokenId(family.fimMiddle)!;
  const fimPrefix = tok.tokenId(family.fimPrefix)!;
  const end = tok.tokenId(family.endOfMiddle)!;
  let fim = 0;
  for (const e of [...train, ...evalSet]) {
    assert.equal(e.ids.length, e.mask.length);
    assert.ok(e.ids.length <= SEQ_LEN, `example longer than seqLen: ${e.ids.length}`);
    if (e.kind === 'continuation') {
      assert.ok(e.mask.every((m: number) => m === 1));
      continue;
    }
    fim++;
    const promptLength = e.mask.indexOf(1);
    assert.ok(promptLength > 0);
    assert.ok(e.mask.slice(promptLength).every((m: number) => m === 1), 'mask is 1 from the middle to the end');
    assert.equal(e.ids[0], fimPrefix);
    assert.equal(e.ids[promptLength - 1], fimMiddle, 'the prompt ends with the FIM middle token');
    assert.equal(e.ids[e.ids.length - 1], end, 'the end-of-middle token is the last target');
    assert.ok(promptLength < e.ids.length - 1, 'a non-empty middle');
  }
  assert.ok(fim > train.length / 2, 'the default fimRate makes most examples FIM');
});

test('examples are deterministic for a seed and change with it', async () => {
  const { tok, family } = setup();
  const [a, b, c] = [tempDir('shards-a'), tempDir('shards-b'), tempDir('shards-c')];
  await buildShards(FILES, tok, family, { outDir: a, seed: 1, seqLen: SEQ_LEN });
  await buildShards([...FILES].reverse(), tok, family, { outDir: b, seed: 1, seqLen: SEQ_LEN });
  await buildShards(FILES, tok, family, { outDir: c, seed: 2, seqLen: SEQ_LEN });
  const strip = (s: ReturnType<typeof readShards>) => ({ train: s.train, eval: s.eval });
  assert.deepEqual(strip(readShards(a)), strip(readShards(b)));
  assert.notDeepEqual(strip(readShards(a)).train, strip(readShards(c)).train);
});

test('fimRate 0 (and docRate 0) gives continuations only; bad options are refused clearly', async () => {
  const { tok, family } = setup();
  const out = tempDir('shards-cont');
  const summary = await buildShards(FILES, tok, family, { outDir: out, seed: 0, seqLen: SEQ_LEN, fimRate: 0, docRate: 0 });
  assert.equal(summary.kinds.fim, 0);
  assert.ok(summary.kinds.continuation > 0);
  await assert.rejects(buildShards(FILES, tok, family, { outDir: out, seed: 0, seqLen: 8 }), ShardError);
  await assert.rejects(buildShards(FILES, tok, family, { outDir: out, seed: 0, seqLen: SEQ_LEN, fimRate: 2 }), ShardError);
  await assert.rejects(buildShards(FILES, tok, family, { outDir: out, seed: 0, seqLen: SEQ_LEN, contextRate: -1 }), /contextRate/);
  const zero = { line: 0, 'rest-of-line': 0, block: 0, statement: 0, 'syntax-block': 0, 'function-body': 0, arguments: 0 };
  await assert.rejects(buildShards(FILES, tok, family, { outDir: out, seed: 0, seqLen: SEQ_LEN, spanRates: zero }), /spanRates/);
});

test('FIM spans are line-based: whole line, rest of line, multi-line block; text is preserved', () => {
  const text = sourceFile('spans', 40);
  const seen = new Set<string>();
  for (let seed = 0; seed < 10; seed++) {
    for (const plan of planFileExamples(text, mulberry32(seed), 64, 1)) {
      assert.equal(plan.kind, 'fim');
      if (plan.kind !== 'fim') continue;
      seen.add(plan.span);
      assert.ok(text.includes(plan.prefix + plan.middle + plan.suffix), 'prefix + middle + suffix is a slice of the file');
      assert.ok(plan.middle.trim().length > 0);
      assert.ok(plan.suffix === '' || plan.suffix.startsWith('\n'), 'the middle runs to the end of a line');
      if (plan.span === 'line') assert.ok(!plan.middle.includes('\n') && /(^|\n)[ \t]*$/.test(plan.prefix));
      if (plan.span === 'rest-of-line') assert.ok(!plan.middle.includes('\n') && !/(^|\n)[ \t]*$/.test(plan.prefix));
      if (plan.span === 'block') assert.ok(plan.middle.includes('\n'));
    }
  }
  assert.deepEqual([...seen].sort(), ['block', 'line', 'rest-of-line']);
});

test('planted secrets never appear in any written shard (harvest → shards)', async () => {
  const { tok, family } = setup();
  const repo = outsideTempDir('secrets-shards');
  const out = tempDir('shards-secrets');
  try {
    git(repo, 'init', '-q');
    const secretsText = PLANTED_SECRETS.map((s) => s.line).join('\n') + '\n';
    // The secrets file twice (train and, via the newest commit, holdout) so both shard kinds are checked.
    // Two more plain files keep the newest commit's one file within MAX_HOLDOUT_SHARE of the kept files.
    writeFiles(repo, { [SECRETS_FILE]: secretsText, 'src/app.ts': sourceFile('app', 8), 'src/util.ts': sourceFile('util', 6), 'src/lib.ts': sourceFile('lib', 7) });
    commitAll(repo, 'first');
    // More code than secrets, so that src/more.ts is not a near duplicate of the secrets file (which harvest would drop).
    writeFiles(repo, { 'src/more.ts': `${secretsText}${sourceFile('more', 12)}` });
    commitAll(repo, 'second');
    const harvested = await harvest(repo, {});
    assert.deepEqual(harvested.files.filter((f) => f.split === 'holdout').map((f) => f.path), ['src/more.ts']);
    for (const fimRate of [0, 1]) {
      await buildShards(harvested.files, tok, family, { outDir: out, seed: 3, seqLen: SEQ_LEN, fimRate });
      const { train, eval: evalSet } = readShards(out);
      assert.ok(train.some((e) => e.path === SECRETS_FILE) && evalSet.length > 0);
      const decoded = [...train, ...evalSet].map((e) => tok.decode(e.ids)).join('\n');
      assert.ok(decoded.includes('<REDACTED:'), 'placeholders reach the shards');
      for (const s of PLANTED_SECRETS) assert.ok(!decoded.includes(s.secret), `${s.rule} secret in shards (fimRate ${fimRate})`);
    }
  } finally {
    removeDir(repo);
  }
});

test('a small repository gets several FIM spans per window; a large one and the holdout get one', () => {
  const small: ShardInputFile[] = [
    { path: 'a.py', text: 'def f(x):\n    return x + 1\n', split: 'train' },
    { path: 'b.py', text: 'def g(y):\n    return y * 2\n', split: 'holdout' },
  ];
  assert.equal(trainingViews(small, SEQ_LEN), MAX_VIEWS_PER_WINDOW, 'one training window: capped views');
  const many = Array.from({ length: TARGET_TRAIN_EXAMPLES + 1 }, (_, i) => ({ path: `f${i}.py`, text: 'x = 1\n', split: 'train' as const }));
  assert.equal(trainingViews(many, SEQ_LEN), 1, 'enough windows already: one view');
  const mid = Array.from({ length: 100 }, (_, i) => ({ path: `m${i}.py`, text: 'x = 1\n', split: 'train' as const }));
  assert.equal(trainingViews(mid, SEQ_LEN), Math.ceil(TARGET_TRAIN_EXAMPLES / 100));

  const plans = planFileExamples(small[0].text, mulberry32(7), SEQ_LEN, 0.5, 8);
  assert.equal(plans.length, 8);
  assert.ok(plans.filter((p) => p.kind === 'continuation').length <= 1, 'a window has at most one continuation');
  assert.equal(planFileExamples(small[0].text, mulberry32(7), SEQ_LEN, 0, 8).length, 1, 'fimRate 0: the one continuation only');
});
