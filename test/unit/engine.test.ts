/** OrtEngine against the real demo model: parity with Hugging Face greedy decoding, KV-cache reuse, cancellation. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { OrtEngine, PREFILL_CHUNK_TOKENS } from '../../server/src/completion/engine/ortEngine';
import { OnnxModelError, readOnnxModelInfo } from '../../server/src/completion/engine/onnxMetadata';
import type { CodeTokenizer } from '../../server/src/models/tokenizer';
import { pythonPath, tempDir, TRAINER_DIR } from '../helpers/paths';
import { coldGenerate, DEMO_PREFIX, demoFim, ensureDemoOnnx, generateAbortingAfter } from '../helpers/onnxModel';

const NEW_TOKENS = 24;

let modelDir: string;
let onnxDir: string;
let tok: CodeTokenizer;
let prompt: number[];
let stopIds: Set<number>;
let fim: (prefix?: string) => number[];
let engine: OrtEngine;

before(async () => {
  ({ modelDir, onnxDir, tok, prompt, stopIds, fim } = demoFim());
  engine = await OrtEngine.load(onnxDir);
});

after(async () => {
  await engine?.dispose();
});

/** Greedy ids of transformers' generate(do_sample=False) for each prompt, cut at the first stop id. */
function huggingFaceGreedy(prompts: number[][], maxNewTokens: number): number[][] {
  const script = [
    'import json, sys, torch',
    'from transformers import AutoModelForCausalLM',
    'model_dir, prompts, n = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])',
    'model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()',
    'out = []',
    'for p in prompts:',
    '    ids = torch.tensor([p])',
    '    with torch.no_grad():',
    '        g = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n, min_new_tokens=n,',
    '                           pad_token_id=model.config.eos_token_id)',
    '    out.append(g[0, len(p):].tolist())',
    'print(json.dumps(out))',
  ].join('\n');
  const stdout = execFileSync(pythonPath(), ['-c', script, modelDir, JSON.stringify(prompts), String(maxNewTokens)], {
    cwd: TRAINER_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

test('greedy ids equal Hugging Face generate(do_sample=False) for the same prompts', async () => {
  const other = tok.encode('function add(a, b) {\n  return');
  const expected = huggingFaceGreedy([prompt, other], NEW_TOKENS);
  for (const [i, p] of [prompt, other].entries()) {
    engine.resetCache();
    // No stop ids: HF was forced to NEW_TOKENS (min_new_tokens), so compare the full run.
    const got = await engine.generate(p, { maxNewTokens: NEW_TOKENS, stopIds: [] });
    assert.deepEqual(got.ids, expected[i], `prompt ${i}`);
    assert.equal(got.stoppedBy, 'length');
  }
});

test('reusing the KV cache for a shared prompt prefix gives the ids of a cold run', async () => {
  const cold = await OrtEngine.load(onnxDir, { reuseKvCache: false });
  try {
    engine.resetCache();
    await engine.generate(prompt, { maxNewTokens: 8, stopIds });
    // Typing at the end of the prefix: the new prompt shares all but its last few tokens with the previous one.
    const edited = fim(`${DEMO_PREFIX}lines = f.rea`);
    for (const p of [edited, edited, prompt]) {
      const warm = await engine.generate(p, { maxNewTokens: 12, stopIds });
      const reference = await cold.generate(p, { maxNewTokens: 12, stopIds });
      assert.ok(warm.reusedTokens > 0, 'some prompt tokens came from the cache');
      assert.equal(warm.prefilledTokens + warm.reusedTokens, p.length);
      assert.equal(reference.reusedTokens, 0);
      assert.deepEqual(warm.ids, reference.ids);
    }
    const again = await engine.generate(prompt, { maxNewTokens: 4, stopIds });
    assert.equal(again.reusedTokens, prompt.length - 1, 'an identical prompt feeds only its last token');
  } finally {
    await cold.dispose();
  }
});

test('a cached prompt extended past the KV buffer\'s capacity keeps its cache and its ids', async () => {
  const cold = await OrtEngine.load(onnxDir, { reuseKvCache: false });
  try {
    engine.resetCache();
    const long = tok.encode(fs.readFileSync(__filename, 'utf8')).slice(0, 700);
    await engine.generate(long.slice(0, 40), { maxNewTokens: 2, stopIds: [] });
    // 700 tokens outgrow the first allocation: the buffers grow with 40 positions held (and re-laid out per head).
    const warm = await engine.generate(long, { maxNewTokens: 8, stopIds: [] });
    assert.equal(warm.reusedTokens, 40);
    assert.deepEqual(warm.ids, (await cold.generate(long, { maxNewTokens: 8, stopIds: [] })).ids);
  } finally {
    await cold.dispose();
  }
});

test('gqa exports, with new_key_values.* (2026-11-30) or without (before: present.* bound), give the buffer graph\'s ids', async () => {
  // The gqa graph of the same weights, once as exported and once with the metadata older exports had.
  const gqaDir = ensureDemoOnnx('gqa');
  const dir = tempDir('repotune-old-gqa-');
  const meta = JSON.parse(fs.readFileSync(path.join(gqaDir, 'repotune-onnx.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'repotune-onnx.json'), JSON.stringify({ ...meta, outputs: meta.outputs.filter((n: string) => !n.startsWith('new_key_values.')) }));
  for (const f of fs.readdirSync(gqaDir).filter((f) => f.startsWith('model.onnx'))) fs.symlinkSync(path.join(gqaDir, f), path.join(dir, f));
  assert.deepEqual([onnxDir, gqaDir, dir].map((d) => readOnnxModelInfo(d).newKeyValues), [true, true, false]);
  const others = [await OrtEngine.load(gqaDir), await OrtEngine.load(dir)];
  try {
    engine.resetCache();
    const long = tok.encode(fs.readFileSync(__filename, 'utf8')).slice(0, 300);
    // A prefill in chunks, decoding, then a prompt that reuses part of the cache: every path of the cache.
    for (const p of [long, [...long.slice(0, 250), 42, 43]]) {
      const expected = (await engine.generate(p, { maxNewTokens: 12, stopIds: [] })).ids;
      for (const other of others) assert.deepEqual((await other.generate(p, { maxNewTokens: 12, stopIds: [] })).ids, expected);
    }
  } finally {
    for (const other of others) await other.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an abort during a long prefill stops between chunks and keeps the prefilled part cached', async () => {
  const long = tok.encode(fs.readFileSync(__filename, 'utf8')).slice(0, PREFILL_CHUNK_TOKENS * 3);
  engine.resetCache();
  const controller = new AbortController();
  const running = engine.generate(long, { maxNewTokens: 4, stopIds: [], signal: controller.signal });
  // onnxruntime-node runs each chunk from a setImmediate callback: this one fires within the first two chunks.
  setImmediate(() => controller.abort());
  const cancelled = await running;
  assert.deepEqual([cancelled.stoppedBy, cancelled.ids.length], ['cancelled', 0]);
  assert.ok(cancelled.prefilledTokens > 0 && cancelled.prefilledTokens < long.length && cancelled.prefilledTokens % PREFILL_CHUNK_TOKENS === 0,
    `stopped between chunks after ${cancelled.prefilledTokens} tokens`);
  const resumed = await engine.generate(long, { maxNewTokens: 4, stopIds: [] });
  assert.equal(resumed.reusedTokens, cancelled.prefilledTokens, 'the next request continues from the cancelled prefill');
  assert.deepEqual(resumed.ids, (await coldGenerate(onnxDir, long, { maxNewTokens: 4, stopIds: [] })).ids);
});

test('an AbortSignal stops generation within one token', async () => {
  const got = await generateAbortingAfter(engine, prompt, 3, NEW_TOKENS);
  assert.equal(got.stoppedBy, 'cancelled');
  assert.equal(got.ids.length, 3);
  const before = await engine.generate(prompt, { maxNewTokens: 4, stopIds: [], signal: AbortSignal.abort() });
  assert.deepEqual([before.stoppedBy, before.ids.length], ['cancelled', 0]);
});

test('onToken returning false stops with reason filter; stop ids end with reason stop', async () => {
  const filtered = await engine.generate(prompt, { maxNewTokens: NEW_TOKENS, stopIds: [], onToken: (_id, ids) => ids.length < 2 });
  assert.deepEqual([filtered.stoppedBy, filtered.ids.length], ['filter', 2]);
  const free = await engine.generate(prompt, { maxNewTokens: 6, stopIds: [] });
  const stopped = await engine.generate(prompt, { maxNewTokens: 6, stopIds: [free.ids[2]] });
  assert.equal(stopped.stoppedBy, 'stop');
  assert.deepEqual(stopped.ids, free.ids.slice(0, free.ids.indexOf(free.ids[2])));
});

test('a missing or corrupt model.onnx is refused with an error naming the file', async () => {
  const dir = tempDir('bad-onnx');
  try {
    fs.copyFileSync(path.join(onnxDir, 'repotune-onnx.json'), path.join(dir, 'repotune-onnx.json'));
    await assert.rejects(OrtEngine.load(dir), (err: Error) => err instanceof OnnxModelError && err.message.includes(path.join(dir, 'model.onnx')));
    fs.writeFileSync(path.join(dir, 'model.onnx'), 'not a protobuf');
    await assert.rejects(OrtEngine.load(dir), (err: Error) => err instanceof OnnxModelError && /Cannot load .*model\.onnx/.test(err.message));
    fs.writeFileSync(path.join(dir, 'repotune-onnx.json'), '{"num_layers": 4');
    await assert.rejects(OrtEngine.load(dir), /Corrupt .*repotune-onnx\.json/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('throughput of the demo model (reported, not asserted)', async (t) => {
  const long = tok.encode(fs.readFileSync(__filename, 'utf8').slice(0, 3000)).slice(0, 512);
  engine.resetCache();
  await engine.generate(long.slice(0, 16), { maxNewTokens: 2, stopIds: [] }); // warm-up
  engine.resetCache();
  const r = await engine.generate(long, { maxNewTokens: 64, stopIds: [] });
  const prefill = (r.prefilledTokens / r.prefillMs) * 1000;
  const decode = ((r.ids.length - 1) / r.decodeMs) * 1000;
  t.diagnostic(`prefill ${r.prefilledTokens} tokens in ${r.prefillMs.toFixed(1)} ms = ${prefill.toFixed(0)} tok/s; ` +
    `decode ${r.ids.length - 1} tokens in ${r.decodeMs.toFixed(1)} ms = ${decode.toFixed(0)} tok/s`);
  assert.ok(prefill > 0 && decode > 0);
});
