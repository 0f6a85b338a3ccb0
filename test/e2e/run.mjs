#!/usr/bin/env node
// End-to-end test of RepoTune in a real VS Code (the server bundled in code-server, driven in headless Chromium).
//   node test/e2e/run.mjs [--skip-build] [--ui-only] [--keep]
//     --skip-build  use the existing VSIX (default: build it with scripts/package-vsix.mjs)
//     --ui-only     stop after the checks that need no sidecar (activation, palette, placeholder command)
//     --keep        keep the temporary state folder (printed) for inspection
// Setup (cached in .cache/e2e): node scripts/e2e-setup.mjs. Screenshots: .cache/e2e/shots/. Last line:
// "e2e: N passed, N failed".
// The extension is installed from the VSIX, as a user gets it. The server runs WITHOUT --enable-smoke-test-driver:
// that flag also turns off notification toasts, which the checks read (progress, results).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ensureE2eEnvironment } from '../../scripts/e2e-setup.mjs';
import { createFixtureRepo, writeMachineSettings } from './fixture.mjs';
import { freePort, startGroup, stopGroup, tail, waitForHttp } from './processes.mjs';
import { runChecks } from './checks.mjs';
import { runFirstRunChecks } from './firstRunChecks.mjs';
import { startFakeHub } from './fakeHub.mjs';
import { runUntrustedChecks } from './untrusted.mjs';
import { Workbench } from './workbench.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Whole run, setup excluded; on expiry everything started is stopped and the run fails. */
const TOTAL_TIMEOUT_MS = 12 * 60_000;
const BUILD_TIMEOUT_MS = 5 * 60_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const WORKBENCH_LOAD_TIMEOUT_MS = 90_000;
/** A short fine-tune of the demo model keeps the run to a few minutes on 2 CPU cores. */
const E2E_MAX_STEPS = 12;
const VIEWPORT = { width: 1400, height: 900 };
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
];

const flags = new Set(process.argv.slice(2));
const shotsDir = path.join(ROOT, '.cache', 'e2e', 'shots');

function buildExtension() {
  const { name, version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const vsix = path.join(ROOT, `${name}-linux-x64-${version}.vsix`);
  const step = ['scripts/package-vsix.mjs'];
  if (!flags.has('--skip-build')) {
    console.log(`e2e: building (${step.join(' ')})`);
    const r = spawnSync(process.execPath, step, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: BUILD_TIMEOUT_MS });
    if (r.status !== 0) throw new Error(`build failed: node ${step.join(' ')} (exit ${r.status ?? r.signal})`);
  }
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} is missing: run without --skip-build`);
  return vsix;
}

function findFiles(dir, re, found = []) {
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, re, found);
    else if (re.test(e.name)) found.push(p);
  }
  return found;
}

async function main() {
  const env = ensureE2eEnvironment();
  const vsix = buildExtension();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repotune-e2e-'));
  const dirs = { ext: path.join(tmp, 'ext'), reh: path.join(tmp, 'reh'), user: path.join(tmp, 'user'), ws: path.join(tmp, 'geometry') };
  const serverLog = path.join(tmp, 'server.log');
  fs.rmSync(shotsDir, { recursive: true, force: true });
  createFixtureRepo(dirs.ws, { maxSteps: E2E_MAX_STEPS });
  writeMachineSettings(dirs.user, {
    'repotune.pythonPath': process.env.REPOTUNE_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python'),
    'repotune.logLevel': 'debug',
  });
  const hub = await startFakeHub();
  const serverEnv = {
    ...process.env,
    // "Choose model" downloads from the fake hub into a cache inside the run's folder.
    HF_ENDPOINT: hub.url,
    HF_HOME: path.join(tmp, 'hf-home'),
    PATH: `${path.dirname(env.node24)}:${process.env.PATH}`,
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
  };
  const common = ['--server-data-dir', dirs.reh, '--user-data-dir', dirs.user, '--extensions-dir', dirs.ext, '--accept-server-license-terms'];

  let server;
  let browser;
  const watchdog = setTimeout(async () => {
    console.error(`e2e: total timeout (${TOTAL_TIMEOUT_MS / 1000} s): stopping everything`);
    await browser?.close().catch(() => undefined);
    await stopGroup(server);
    console.log('e2e: 0 passed, 1 failed');
    process.exit(1);
  }, TOTAL_TIMEOUT_MS);
  const started = Date.now();
  try {
    const install = spawnSync(env.node24, [env.vscodeServerMain, ...common, '--install-extension', vsix, '--force'], {
      env: serverEnv,
      encoding: 'utf8',
      timeout: SERVER_START_TIMEOUT_MS,
    });
    if (install.status !== 0 || !/successfully installed/.test(install.stdout)) {
      throw new Error(`installing ${vsix} failed:\n${install.stdout}${install.stderr}`);
    }
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = startGroup(
      env.node24,
      [env.vscodeServerMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--telemetry-level', 'off',
        '--disable-workspace-trust', ...common],
      { env: serverEnv, cwd: tmp, logFile: serverLog },
    );
    await waitForHttp(`${base}/version`, SERVER_START_TIMEOUT_MS, () => server.exitCode === null);
    const url = `${base}/?folder=${encodeURIComponent(dirs.ws)}`;
    browser = await chromium.launch({ executablePath: env.chromium, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: VIEWPORT });
    const workbench = new Workbench(page, shotsDir);
    const storageDir = path.join(dirs.user, 'User', 'globalStorage', 'repotune.repotune');
    // First, on the fresh profile: the walkthrough that opens once, "Check environment", "Create trainer environment".
    const firstRun = flags.has('--ui-only') ? [] : await runFirstRunChecks(workbench, { url, storageDir, loadTimeoutMs: WORKBENCH_LOAD_TIMEOUT_MS });
    const results = await runChecks(workbench, {
      url,
      workspace: dirs.ws,
      storageDir,
      hub,
      hfHome: path.join(tmp, 'hf-home'),
      uiOnly: flags.has('--ui-only'),
      loadTimeoutMs: WORKBENCH_LOAD_TIMEOUT_MS,
    });
    results.unshift(...firstRun);
    if (!flags.has('--ui-only')) {
      const pythonPath = process.env.REPOTUNE_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
      results.push(...(await runUntrustedChecks({
        browser, env, serverEnv, extensionsDir: dirs.ext, tmp, shotsDir, viewport: VIEWPORT, loadTimeoutMs: WORKBENCH_LOAD_TIMEOUT_MS, pythonPath,
      })));
    }
    const failed = results.filter((r) => !r.ok);
    if (failed.length) {
      console.log(`--- server log (${serverLog}) ---\n${tail(serverLog)}`);
      for (const f of findFiles(dirs.user, /RepoTune\.log$/)) console.log(`--- ${f} ---\n${tail(f, 60)}`);
    }
    console.log(`e2e: screenshots in ${path.relative(ROOT, shotsDir)}/, took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    console.log(`e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
    return failed.length ? 1 : 0;
  } finally {
    clearTimeout(watchdog);
    await browser?.close().catch(() => undefined);
    await stopGroup(server);
    await hub.close();
    if (flags.has('--keep')) console.log(`e2e: state kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`e2e: ${err instanceof Error ? err.message : String(err)}`);
    console.log('e2e: 0 passed, 1 failed');
    process.exit(1);
  },
);
