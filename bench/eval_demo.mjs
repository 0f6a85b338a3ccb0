// Bundles bench/eval_demo.ts with esbuild (as the product is bundled) and runs it: the evaluation demonstration of
// issue 7 (pretrain the demo-sized model on corpus A, LoRA on repository B, four arms + forgetting check).
//   node esbuild.mjs && node bench/eval_demo.mjs
// Environment: EVAL_DEMO_PRETRAIN_MINUTES (4) or EVAL_DEMO_PRETRAIN_STEPS (N), EVAL_DEMO_STEPS (200), EVAL_DEMO_LR (trainer default), EVAL_DEMO_REUSE=1 (keep the pretrained model).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(ROOT, '.cache', `bench-eval-demo-${process.pid}.cjs`);
try {
  await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/eval_demo.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning', external: ['onnxruntime-node'] });
  execFileSync(process.execPath, [out, ROOT], { stdio: 'inherit' });
} finally {
  fs.rmSync(out, { force: true });
}
