// Makes a fresh checkout ready to run: npm dependencies, the Python environment, and the bundles. Idempotent and
// quick when nothing changed, so `npm run demo` and `npm test` can call it every time. Uses no npm packages.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MIN_NODE_MAJOR = 20;

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_NODE_MAJOR) {
  console.error(`RepoTune needs Node ${MIN_NODE_MAJOR} or newer (this is ${process.versions.node}).`);
  process.exit(1);
}

// npm ci when node_modules is missing or older than the lock file.
const installedLock = path.join(ROOT, 'node_modules', '.package-lock.json');
if (mtime(installedLock) < mtime(path.join(ROOT, 'package-lock.json'))) {
  console.error('bootstrap: installing npm dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

run(process.execPath, [path.join(ROOT, 'scripts', 'setup-python.mjs'), '--if-needed']);

console.error('bootstrap: building…');
run(process.execPath, [path.join(ROOT, 'esbuild.mjs'), ...process.argv.slice(2)]);
