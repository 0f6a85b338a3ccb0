// Bundles bench/examples.ts with esbuild (as the product is bundled) and runs it.
//   node bench/examples.mjs [repo] [modelDir]     (defaults: this repository, the test demo model)
// The bundle is written inside the repository so that it finds the tree-sitter .wasm files in node_modules.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(ROOT, '.cache', `bench-examples-${process.pid}.cjs`);
const repo = process.argv[2] ?? ROOT;
const modelDir = process.argv[3] ?? path.join(ROOT, '.cache', 'test', 'demo-model');
try {
  await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/examples.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning', external: ['onnxruntime-node'] });
  execFileSync(process.execPath, [out, repo, modelDir], { stdio: 'inherit' });
} finally {
  fs.rmSync(out, { force: true });
}
