const ort = require('onnxruntime-node');
const fs = require('fs');
const dir = process.argv[2];
(async () => {
  const meta = JSON.parse(fs.readFileSync(dir + '/repotune-onnx.json'));
  const s = await ort.InferenceSession.create(dir + '/model.onnx', { executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential', interOpNumThreads: 1, intraOpNumThreads: 1, enableMemPattern: false, enableCpuMemArena: true, logSeverityLevel: 3 });
  const L = meta.num_layers, KV = meta.num_kv_heads, D = meta.head_dim, PAST = 2048;
  const mk = (cap) => Array.from({ length: L }, () => [new Float32Array(KV * cap * D), new Float32Array(KV * cap * D)]);
  const b2560 = mk(2560), b4096 = mk(4096);
  const logits = new ort.Tensor('float32', new Float32Array(meta.vocab_size), [1, meta.vocab_size]);
  async function step(bufs, cap, mode, pos) {
    const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from([5n]), [1, 1]), position_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(pos)]), [1, 1]) };
    const fetches = { logits };
    for (let i = 0; i < L; i++) {
      const k = new ort.Tensor('float32', bufs[i][0], [1, KV, cap, D]), v = new ort.Tensor('float32', bufs[i][1], [1, KV, cap, D]);
      feeds[`past_key_values.${i}.key`] = k; feeds[`past_key_values.${i}.value`] = v;
      if (mode === 'shared') { fetches[`present.${i}.key`] = k; fetches[`present.${i}.value`] = v; }
    }
    const t = performance.now(); await s.run(feeds, fetches); return performance.now() - t;
  }
  const variants = { 'shared-2560': [b2560, 2560, 'shared'], 'nofetch-2560': [b2560, 2560, 'nofetch'], 'shared-4096': [b4096, 4096, 'shared'], 'nofetch-4096': [b4096, 4096, 'nofetch'] };
  const t = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < 12; r++) for (const [k, [b, c, m]] of Object.entries(variants)) { const ms = await step(b, c, m, PAST + (r % 4)); if (r >= 2) t[k].push(ms); }
  for (const [k, v] of Object.entries(t)) { v.sort((a, b) => a - b); console.log(k, 'median', v[5].toFixed(1), 'min', v[0].toFixed(1)); }
})();
