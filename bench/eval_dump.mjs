// Bundles bench/eval_dump.ts with esbuild and runs it: per arm, tasks of an evaluation with their prompts, outputs
// and scores (issue 7). Arguments are passed through; see bench/eval_dump.ts.
//   node bench/eval_dump.mjs --model DIR --base-onnx DIR --adapter-onnx DIR --repo DIR [--tasks 8] [--compare-plain]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(ROOT, '.cache', `bench-eval-dump-${process.pid}.cjs`);
try {
  await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/eval_dump.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning', external: ['onnxruntime-node'] });
  execFileSync(process.execPath, [out, ...process.argv.slice(2)], { stdio: 'inherit' });
} finally {
  fs.rmSync(out, { force: true });
}
