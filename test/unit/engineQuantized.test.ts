/**
 * OrtEngine on int4/int8 exports of the demo model (MatMulNBits weights): onnxruntime-node loads and runs them, the
 * KV-cache reuse is exact, and the model's likelihood stays close to the fp32 export's. The int8 export uses the
 * standard-ops attention ("concat"), so the engine's compact KV-cache path (exports without GroupQueryAttention)
 * is covered too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { OrtEngine } from '../../server/src/completion/engine/ortEngine';
import { loadTokenizer } from '../../server/src/models/tokenizer';
import { ensureDemoModel, pythonPath, tempDir, TRAINER_DIR } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

/** Mean |NLL difference| per token allowed against fp32 (nats); the demo model's NLL is ~7 nats/token. */
const MAX_NLL_DIFF_PER_TOKEN = { int4: 0.05, int8: 0.01 } as const;
const ATTENTION = { int4: 'gqa', int8: 'concat' } as const;
const SCORED_TOKENS = 120;
const NEW_TOKENS = 16;
const TEXT = 'def read_lines(path):\n    with open(path) as f:\n        return [line.rstrip() for line in f]\n\n' +
  'class Config:\n    def __init__(self, values):\n        self.values = dict(values)\n\n    def get(self, key, default=None):\n' +
  '        return self.values.get(key, default)\n';

let modelDir: string;
let ids: number[];
let fp32: OrtEngine;
const quantizedDirs: Record<'int4' | 'int8', string> = { int4: '', int8: '' };

function exportQuantized(kind: 'int4' | 'int8'): string {
  const out = path.join(tempDir(`onnx-${kind}`), 'export');
  execFileSync(pythonPath(), ['-m', 'repotune_trainer.export_onnx', '--model', modelDir, '--out', out, '--quantize', kind, '--attention', ATTENTION[kind]], {
    cwd: TRAINER_DIR,
    env: { ...process.env, PYTHONPATH: TRAINER_DIR },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return out;
}

before(async () => {
  modelDir = ensureDemoModel();
  ids = loadTokenizer(modelDir).encode(TEXT.repeat(3)).slice(0, SCORED_TOKENS + 1);
  fp32 = await OrtEngine.load(ensureDemoOnnx(), { intraOpNumThreads: 1 });
  quantizedDirs.int4 = exportQuantized('int4');
  quantizedDirs.int8 = exportQuantized('int8');
});

after(async () => {
  await fp32?.dispose();
});

for (const kind of ['int4', 'int8'] as const) {
  test(`${kind}: metadata names the quantization and the graph uses MatMulNBits`, () => {
    const meta = JSON.parse(fs.readFileSync(path.join(quantizedDirs[kind], 'repotune-onnx.json'), 'utf8'));
    assert.equal(meta.weight_quantization, kind);
    assert.equal(meta.attention, ATTENTION[kind]);
    assert.equal(meta.dtype, 'float32', 'graph inputs/outputs stay float32 (the export contract)');
    assert.ok(fs.readFileSync(path.join(quantizedDirs[kind], 'model.onnx')).includes('MatMulNBits'));
  });

  test(`${kind}: likelihood of real text stays close to fp32, and KV-cache reuse matches a cold run`, async (t) => {
    const engine = await OrtEngine.load(quantizedDirs[kind], { intraOpNumThreads: 1 });
    const cold = await OrtEngine.load(quantizedDirs[kind], { intraOpNumThreads: 1, reuseKvCache: false });
    try {
      const ref = await fp32.negLogLikelihood(ids);
      const got = await engine.negLogLikelihood(ids);
      assert.equal(got.scored, SCORED_TOKENS);
      const diff = Math.abs(got.nats - ref.nats) / got.scored;
      t.diagnostic(`${kind}: NLL ${(got.nats / got.scored).toFixed(4)} vs fp32 ${(ref.nats / ref.scored).toFixed(4)} nats/token`);
      assert.ok(diff < MAX_NLL_DIFF_PER_TOKEN[kind], `mean NLL difference ${diff.toFixed(4)} nats/token`);

      const prompt = ids.slice(0, 60);
      await engine.generate(prompt, { maxNewTokens: 4, stopIds: [] });
      const warm = await engine.generate(ids.slice(0, 64), { maxNewTokens: NEW_TOKENS, stopIds: [] });
      const reference = await cold.generate(ids.slice(0, 64), { maxNewTokens: NEW_TOKENS, stopIds: [] });
      assert.ok(warm.reusedTokens >= prompt.length - 1, 'the shared prefix came from the cache');
      assert.equal(warm.ids.length, NEW_TOKENS);
      assert.deepEqual(warm.ids, reference.ids);
    } finally {
      await engine.dispose();
      await cold.dispose();
    }
  });
}
