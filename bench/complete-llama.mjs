// The llama.cpp peer of bench/complete: prefill and decode tokens/s of the same weights (GGUF, f32 and Q4_0)
// through node-llama-cpp on the CPU, with the same prompt ids and thread count.
//   node bench/complete-llama.mjs BENCH_DIR PROMPT_IDS_JSON THREADS
// node-llama-cpp is not a project dependency (a native runtime the product does not ship): bench/complete.mjs
// installs it into .cache/bench/llama-peer and passes its location in LLAMA_PEER_DIR.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const DECODE_TOKENS = 64;
/** Room for the prompt and the decoded tokens. */
const CONTEXT_SLACK = 256;

const [benchDir, promptFile, threadsArg] = process.argv.slice(2);
const peerDir = process.env.LLAMA_PEER_DIR;
const { getLlama } = await import(pathToFileURL(path.join(peerDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);
const promptIds = JSON.parse(fs.readFileSync(promptFile, 'utf8'));
const threads = Number(threadsArg);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const results = {};
for (const [variant, file] of [['q4_0', 'model-q4_0.gguf'], ['f32', 'model-f32.gguf']]) {
  const model = await llama.loadModel({ modelPath: path.join(benchDir, 'gguf', file) });
  const context = await model.createContext({ contextSize: promptIds.length + CONTEXT_SLACK, batchSize: promptIds.length, threads });
  try {
    const sequence = context.getSequence();
    const t0 = performance.now();
    let tFirst = 0;
    let count = 0;
    // Greedy (temperature 0); the first token arrives after the prefill, the rest are one decode step each.
    for await (const _token of sequence.evaluate(promptIds, { temperature: 0 })) {
      count++;
      if (count === 1) tFirst = performance.now();
      if (count >= DECODE_TOKENS) break;
    }
    const tEnd = performance.now();
    results[variant] = { prefillTps: (promptIds.length / (tFirst - t0)) * 1000, decodeTps: ((count - 1) / (tEnd - tFirst)) * 1000 };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}
console.log(JSON.stringify(results));
