// bench/complete: keystroke-to-text latency and prefill/decode speed of a 0.5B-shaped model, fp32 vs int4, on CPU.
//   node bench/complete.mjs [--context 2048] [--keystrokes 10] [--threads N] [--attention buffer[,gqa,concat]] [--llama [--rounds 3]]
// Builds (once) .cache/bench/qwen05b: random weights in Qwen2.5-Coder-0.5B's shape with the demo tokenizer, and
// its fp32 and int4 ONNX exports per attention graph (bench/complete_model.py; default buffer, the export default;
// `--attention buffer,gqa` adds GroupQueryAttention for comparison), then bundles bench/complete.ts and runs it.
// --llama adds the llama.cpp peer: installs node-llama-cpp (+ its prebuilt CPU binary) into .cache/bench/llama-peer
// (bench/llamaPeer.mjs; not a project dependency), writes the same weights as GGUF f32 and Q4_0 with the product's
// GGUF export (bench/complete_gguf.py) and runs bench/complete-llama.mjs on the same prompt ids.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { ensureLlamaPeer, LLAMA_PEER_DIR } from './llamaPeer.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BENCH_DIR = path.join(ROOT, '.cache', 'bench', 'qwen05b');
const DEMO_MODEL = path.join(ROOT, '.cache', 'test', 'demo-model');
const PYTHON = process.env.REPOTUNE_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
const { values } = parseArgs({ options: { context: { type: 'string', default: '2048' }, keystrokes: { type: 'string', default: '10' }, threads: { type: 'string', default: '' }, attention: { type: 'string', default: 'buffer' }, llama: { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' } } });

if (!fs.existsSync(path.join(DEMO_MODEL, 'tokenizer.json'))) {
  execFileSync(PYTHON, ['-m', 'repotune_trainer.demo_model', '--out', DEMO_MODEL], { cwd: path.join(ROOT, 'server', 'trainer'), stdio: 'inherit', env: { ...process.env, PYTHONPATH: path.join(ROOT, 'server', 'trainer') } });
}
execFileSync(PYTHON, [path.join(ROOT, 'bench', 'complete_model.py'), BENCH_DIR, DEMO_MODEL, values.attention], { stdio: 'inherit' });
if (values.llama) {
  ensureLlamaPeer();
  execFileSync(PYTHON, [path.join(ROOT, 'bench', 'complete_gguf.py'), BENCH_DIR], { stdio: 'inherit' });
}
const out = path.join(ROOT, '.cache', `bench-complete-${process.pid}.cjs`);
const hugePages = path.join(ROOT, '.cache', `bench-complete-hugepages-${process.pid}.mjs`);
try {
  await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/complete.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning', external: ['onnxruntime-node'] });
  // The environment the extension spawns the sidecar with (huge pages for the weights and the KV cache); the
  // llama.cpp peer, a child of the bench, gets the same.
  await esbuild.build({ entryPoints: [path.join(ROOT, 'server/src/completion/engine/hugePages.ts')], bundle: true, platform: 'node', format: 'esm', outfile: hugePages, logLevel: 'warning' });
  const { withHugePageMalloc } = await import(hugePages);
  const env = withHugePageMalloc(values.llama ? { ...process.env, LLAMA_PEER_DIR } : process.env);
  execFileSync(process.execPath, [out, BENCH_DIR, values.context, values.keystrokes, values.threads, values.attention, values.rounds], { stdio: 'inherit', env });
} finally {
  fs.rmSync(out, { force: true });
  fs.rmSync(hugePages, { force: true });
}
