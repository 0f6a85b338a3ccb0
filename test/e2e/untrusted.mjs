// The untrusted-workspace case, in a second VS Code server WITH workspace trust (the main run disables it): the
// folder is opened untrusted (Restricted Mode), and "Fine-tune on workspace" must refuse without starting anything.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFixtureRepo, writeMachineSettings } from './fixture.mjs';
import { freePort, sleep, startGroup, stopGroup, waitForHttp } from './processes.mjs';
import { Workbench } from './workbench.mjs';

const SERVER_START_TIMEOUT_MS = 60_000;
const UI_TIMEOUT_MS = 15_000;
/** Long enough for a fine-tune that wrongly started to create its run folder (the first stage is immediate). */
const NOTHING_RUNS_WAIT_MS = 5_000;
const TRUST_DIALOG_NO = '.monaco-dialog-box .monaco-button:has-text("No")';

export async function runUntrustedChecks({ browser, env, serverEnv, extensionsDir, tmp, shotsDir, viewport, loadTimeoutMs, pythonPath }) {
  const base = path.join(tmp, 'untrusted');
  const dirs = { reh: path.join(base, 'reh'), user: path.join(base, 'user'), ws: path.join(base, 'stranger-repo') };
  createFixtureRepo(dirs.ws, { maxSteps: 2 });
  writeMachineSettings(dirs.user, { 'repotune.pythonPath': pythonPath });
  const port = await freePort();
  const server = startGroup(
    env.node24,
    [env.vscodeServerMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--telemetry-level', 'off',
      '--server-data-dir', dirs.reh, '--user-data-dir', dirs.user, '--extensions-dir', extensionsDir, '--accept-server-license-terms'],
    { env: serverEnv, cwd: base, logFile: path.join(base, 'server.log') },
  );
  const page = await browser.newPage({ viewport });
  const wb = new Workbench(page, shotsDir);
  wb.shotCount = 50; // after the main run's pictures
  const results = [];
  const name = 'untrusted workspace: "Fine-tune on workspace" refuses and nothing runs';
  const t0 = Date.now();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/version`, SERVER_START_TIMEOUT_MS, () => server.exitCode === null);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`, { timeout: loadTimeoutMs });
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: loadTimeoutMs });
    // A trust question at start-up (if this VS Code asks one) is declined; either way the folder must be restricted.
    const no = await page.$(TRUST_DIALOG_NO);
    if (no) await no.click();
    await wb.waitFor('RepoTune status bar item', () => wb.repoTuneStatus(), loadTimeoutMs);
    const restricted = await wb.waitFor('the Restricted Mode indicator', async () => ((await page.$$('[aria-label*="Restricted Mode"]')).length ? true : null), UI_TIMEOUT_MS);
    await wb.runCommand('RepoTune: Fine-tune on workspace');
    const [which, text] = await wb.waitForToast([/fine-tuning is disabled in an untrusted workspace/, /fine-tuned|step \d+|starting/i], UI_TIMEOUT_MS);
    await wb.screenshot('untrusted-refused');
    if (which !== 0) throw new Error(`expected a refusal, got: ${text}`);
    await sleep(NOTHING_RUNS_WAIT_MS);
    const storage = path.join(dirs.user, 'User', 'globalStorage', 'repotune.repotune', 'workspaces');
    const runs = fs.existsSync(storage) ? fs.readdirSync(storage) : [];
    if (runs.length) throw new Error(`a run was created: ${runs.join(', ')}`);
    const toasts = await wb.toasts();
    if (toasts.some((t) => /step \d+|fine-tuned/.test(t))) throw new Error(`training progress shown: ${toasts.join(' | ')}`);
    results.push({ name, ok: restricted === true, detail: JSON.stringify(text) });
    console.log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s) ${JSON.stringify(text)}`);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    await wb.screenshot('FAILED-untrusted');
    results.push({ name, ok: false, detail });
    console.log(`  ✗ ${name}: ${detail}`);
  } finally {
    await page.close().catch(() => undefined);
    await stopGroup(server);
  }
  return results;
}
