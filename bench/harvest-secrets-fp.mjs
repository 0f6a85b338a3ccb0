// Bundles bench/harvest-secrets-fp.ts with esbuild (the same way the product is bundled) and runs it.
//   node bench/harvest-secrets-fp.mjs
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(os.tmpdir(), `repotune-bench-fp-${process.pid}.cjs`);
try {
  await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/harvest-secrets-fp.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, logLevel: 'warning' });
  execFileSync(process.execPath, [out, ROOT], { stdio: 'inherit' });
} finally {
  fs.rmSync(out, { force: true });
}
