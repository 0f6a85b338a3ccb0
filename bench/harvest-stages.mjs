// Where the native harvest scan spends its time, stage by stage, and why files still go to JavaScript.
//   node bench/harvest-stages.mjs [--repo DIR]   (default: the synthetic repository bench/harvest.mjs builds)
// Writes the gate's checks as the harvest builds them (server/src/harvest/native.ts gateChecks()) to a JSON file
// and runs server/native/examples/stages.rs on the repository's tracked files: per-stage times (decode, gate,
// sha256, MinHash, all), then the bytes sent to JavaScript by the first check that said yes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { repo: { type: 'string' } } });
const repo = path.resolve(values.repo ?? path.join(ROOT, '.cache', 'bench', 'harvest-20000'));
if (!fs.existsSync(repo)) throw new Error(`${repo} does not exist: run node bench/harvest.mjs once, or pass --repo DIR.`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repotune-bench-stages-'));
try {
  const script = path.join(dir, 'checks.cjs');
  await esbuild.build({
    stdin: { contents: `console.log(JSON.stringify(require('./server/src/harvest/native').gateChecks()));`, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: script,
    logLevel: 'warning',
  });
  const checks = path.join(dir, 'checks.json');
  fs.writeFileSync(checks, execFileSync(process.execPath, [script], { encoding: 'utf8' }));
  execFileSync('cargo', ['run', '-q', '--release', '--no-default-features', '--example', 'stages', '--', repo, checks], {
    cwd: path.join(ROOT, 'server', 'native'),
    stdio: 'inherit',
    env: { ...process.env, WHY: '1' },
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
