#!/usr/bin/env node
// Builds the linux-x64 VSIX: production bundles, then `vsce package`, then a check of what the VSIX contains.
//   node scripts/package-vsix.mjs [--skip-build]   → repotune-linux-x64-<version>.vsix in the repository root
// .vscodeignore is an allow-list; vsce collects the production dependency tree (onnxruntime-node) itself and the
// allow-list keeps only its linux/x64 binaries.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkContents, listZip } from './vsix-contents.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 'linux-x64';
const BUILD_TIMEOUT_MS = 120_000;
const VSCE_TIMEOUT_MS = 300_000;
/** The VSIX carries a 46 MB libonnxruntime; anything far above this means the allow-list leaked. */
const MAX_VSIX_BYTES = 40 * 1024 * 1024;

function run(command, args, timeout) {
  console.log(`package-vsix: ${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', timeout });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function mb(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function main() {
  const { version, name } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const out = path.join(ROOT, `${name}-${TARGET}-${version}.vsix`);
  if (!process.argv.includes('--skip-build')) {
    run(process.execPath, ['scripts/sync-manifest.mjs', '--check'], BUILD_TIMEOUT_MS);
    // Production bundles overwrite dist/*.js; stale source maps are left out by the allow-list.
    run(process.execPath, ['esbuild.mjs', '--production'], BUILD_TIMEOUT_MS);
  }
  const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  fs.rmSync(out, { force: true });
  run(process.execPath, [vsce, 'package', '--target', TARGET, '--out', out, '--no-rewrite-relative-links'], VSCE_TIMEOUT_MS);

  const entries = listZip(out);
  const size = fs.statSync(out).size;
  const byTop = new Map();
  for (const e of entries) {
    const top = e.name.split('/').slice(0, 3).join('/');
    byTop.set(top, (byTop.get(top) ?? 0) + e.size);
  }
  console.log(`package-vsix: ${path.basename(out)}: ${mb(size)} compressed, ${entries.length} files`);
  for (const [top, bytes] of [...byTop].sort((a, b) => b[1] - a[1])) console.log(`  ${mb(bytes).padStart(9)}  ${top}`);
  const problems = checkContents(entries);
  if (size > MAX_VSIX_BYTES) problems.push(`VSIX is ${mb(size)}, above the ${mb(MAX_VSIX_BYTES)} limit`);
  if (problems.length) throw new Error(`the VSIX content is wrong:\n  ${problems.join('\n  ')}`);
  console.log(`package-vsix: OK ${out}`);
}

try {
  main();
} catch (err) {
  console.error(`package-vsix: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
