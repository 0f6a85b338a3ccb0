// Bundles the extension client, the sidecar, the CLI and the Node tests.
//   node esbuild.mjs            → dist/extension.js, dist/server.js, dist/cli.js
//   node esbuild.mjs --tests    → also out/test/**/*.test.js (one bundle per test file)
//   node esbuild.mjs --production  → minified, no source maps (what the VSIX ships)
// Each also builds the harvest's native scan into dist/harvestNative.node (scripts/build-native.mjs).
import { execFileSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const production = process.argv.includes('--production');
const withTests = process.argv.includes('--tests');

// Native or runtime-resolved modules stay outside the bundles: onnxruntime-node loads a .node binary next to
// its own files, and 'vscode' is provided by the extension host.
const external = ['vscode', 'onnxruntime-node', 'playwright-core'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external,
  logLevel: 'warning',
};

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : findTests(p);
    return e.name.endsWith('.test.ts') || e.name.endsWith('.e2e.ts') ? [p] : [];
  });
}

// tree-sitter's WASM runtime and the grammars syntax-aware training examples use (server/src/syntax/grammars.ts
// looks for them in dist/tree-sitter/ beside the bundles; the VSIX ships them from there).
const TREE_SITTER_DIR = 'dist/tree-sitter';
const TREE_SITTER_FILES = [
  'node_modules/web-tree-sitter/tree-sitter.wasm',
  ...['python', 'javascript', 'typescript', 'tsx', 'go', 'rust', 'java'].map(
    (lang) => `node_modules/@vscode/tree-sitter-wasm/wasm/tree-sitter-${lang}.wasm`,
  ),
];
fs.mkdirSync(TREE_SITTER_DIR, { recursive: true });
for (const file of TREE_SITTER_FILES) fs.copyFileSync(file, path.join(TREE_SITTER_DIR, path.basename(file)));

execFileSync(process.execPath, ['scripts/build-native.mjs', ...(withTests ? ['out/test'] : [])], { stdio: 'inherit' });

await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' }),
  esbuild.build({ ...common, entryPoints: ['server/src/main.ts'], outfile: 'dist/server.js' }),
  esbuild.build({ ...common, entryPoints: ['server/src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // Harvest worker threads (server/src/harvest/pool.ts looks for it beside or above the bundle that starts them).
  esbuild.build({ ...common, entryPoints: ['server/src/harvest/worker.ts'], outfile: 'dist/harvestWorker.js' }),
  withTests && esbuild.build({ ...common, entryPoints: ['server/src/harvest/worker.ts'], outfile: 'out/test/harvestWorker.js' }),
  // The completion engine's thread (server/src/completion/engine/ortThread.ts looks for it the same way).
  esbuild.build({ ...common, entryPoints: ['server/src/completion/engine/ortThreadWorker.ts'], outfile: 'dist/ortWorker.js' }),
  withTests && esbuild.build({ ...common, entryPoints: ['server/src/completion/engine/ortThreadWorker.ts'], outfile: 'out/test/ortWorker.js' }),
  withTests &&
    esbuild.build({ ...common, sourcemap: true, minify: false, entryPoints: findTests('test'), outdir: 'out/test', outbase: 'test' }),
]);
