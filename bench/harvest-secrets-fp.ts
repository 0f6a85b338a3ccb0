/**
 * False-positive count of the secret scan (secretlint preset + RepoTune's rules) on ordinary source: RepoTune's
 * own src/ and server/src/ and the JavaScript/TypeScript of a few installed npm packages. Every finding here is
 * a false positive unless the package really ships a credential; the first characters of each are printed to judge.
 *   node bench/harvest-secrets-fp.mjs
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanSecrets } from '../server/src/harvest/secretlint';

const TREES = ['src', 'server/src', 'node_modules/simple-git/dist', 'node_modules/ignore', 'node_modules/vscode-languageserver/lib',
  'node_modules/vscode-jsonrpc/lib', 'node_modules/typescript/lib/lib.dom.d.ts', 'node_modules/esbuild/lib', 'node_modules/@secretlint/core/module',
  'node_modules/playwright-core/lib', 'node_modules/typescript/lib', 'node_modules/@types/node', 'node_modules/@vscode/vsce/out',
  'node_modules/simple-git/dist', 'node_modules/onnxruntime-common/dist'];
const SOURCE = /\.(ts|js|mjs|cjs|py|json)$/;
/** Larger files are minified bundles the harvest leaves out anyway. */
const MAX_BYTES = 1024 * 1024;

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  if (fs.statSync(root).isFile()) return [root];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && SOURCE.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? process.cwd();
  const byRule: Record<string, number> = {};
  let files = 0;
  let bytes = 0;
  for (const tree of TREES) {
    for (const file of filesUnder(path.join(root, tree))) {
      const stat = fs.statSync(file);
      if (stat.size > MAX_BYTES) continue;
      const text = fs.readFileSync(file, 'utf8');
      files++;
      bytes += stat.size;
      for (const f of await scanSecrets(text, file)) {
        byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
        console.log(`  ${f.rule.padEnd(28)} ${path.relative(root, file)}: ${JSON.stringify(text.slice(f.start, Math.min(f.end, f.start + 24)))}…`);
      }
    }
  }
  const total = Object.values(byRule).reduce((a, b) => a + b, 0);
  console.log(`scanned ${files} files (${(bytes / 1024 ** 2).toFixed(1)} MiB): ${total} findings = false positives ${JSON.stringify(byRule)}`);
}

void main();
