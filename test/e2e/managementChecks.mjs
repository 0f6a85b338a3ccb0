// The checks of managing RepoTune from the workbench, after the fine-tune checks (checks.mjs): the status bar
// tooltip, "Manage adapters", pause/resume, the dashboard and "Choose model" (against the fake hub, fakeHub.mjs).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EDIT_FILE } from './fixture.mjs';
import { SELECTORS } from './workbench.mjs';

const TOAST_TIMEOUT_MS = 15_000;
const QUICK_INPUT_TITLE = '.quick-input-widget .quick-input-title';
const DOWNLOAD_TIMEOUT_MS = 60_000;
const EXPORT_TIMEOUT_MS = 30_000;
/** After Enter in VS Code's folder dialog: long enough for it to close or to open the folder. */
const DIALOG_SETTLE_MS = 1_000;
/** Delay between typed characters in VS Code's folder dialog, which completes paths as they are typed. */
const TYPE_DELAY_MS = 15;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MODEL_PRESET_ROWS = ['Qwen2.5-Coder 0.5B', 'Qwen2.5-Coder 7B', 'DeepSeek-Coder 1.3B', 'StarCoder2 3B', 'Local folder', 'Offline demo model'];
const TOOLTIP_LINKS = ['Open dashboard', 'Manage adapters', 'Pause completions', 'Show logs', 'Restart server'];

/** `check` is checks.mjs's runner: a failure stops the checks after it. */
export async function runManagementChecks(wb, check, { storageDir, hub, hfHome }) {
  await check('status bar tooltip links the RepoTune commands', async () => {
    await wb.page.hover(`${SELECTORS.statusBarItems}[aria-label*="RepoTune"]`);
    const links = await wb.waitFor(
      'tooltip with command links',
      async () => {
        const texts = await wb.page.$$eval(SELECTORS.hoverLinks, (els) => els.map((e) => e.textContent ?? ''));
        return texts.some((t) => t.includes('Manage adapters')) ? texts : null;
      },
      TOAST_TIMEOUT_MS,
    );
    await wb.screenshot('status-tooltip');
    const missing = TOOLTIP_LINKS.filter((l) => !links.some((t) => t.includes(l)));
    if (missing.length) throw new Error(`tooltip lacks ${missing.join(', ')} (links: ${links.join(' | ')})`);
    await wb.page.mouse.move(5, 5);
    return links.map((t) => t.trim()).join(' · ');
  });

  await check('"Manage adapters" lists the runs; the cancelled one is deleted', async () => {
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.runCommand('RepoTune: Manage adapters');
    await waitForQuickPickTitle(wb, 'RepoTune adapters (2 runs)');
    const rows = await wb.waitFor(
      'the active and the cancelled run in the list',
      async () => {
        const r = await wb.quickInputRows();
        return r.some((l) => l.includes('(active)')) && r.some((l) => /never exported/.test(l)) ? r : null;
      },
      TOAST_TIMEOUT_MS,
    );
    await wb.screenshot('manage-adapters');
    await wb.page.click(`${SELECTORS.quickInputRows}:has-text("never exported")`);
    await wb.waitFor('the run\'s actions', async () => ((await wb.quickInputRows()).some((l) => l.includes('Delete this run')) ? true : null), TOAST_TIMEOUT_MS);
    await waitForQuickPickTitle(wb, 'RepoTune run ');
    await wb.page.click(`${SELECTORS.quickInputRows}:has-text("Delete this run")`);
    await wb.page.click('.monaco-dialog-box .monaco-button:has-text("Delete")', { timeout: TOAST_TIMEOUT_MS });
    const [which, text] = await wb.waitForToast([/deleted the run of/, /failed|not running/i], TOAST_TIMEOUT_MS);
    if (which !== 0) throw new Error(text);
    await wb.runCommand('RepoTune: Manage adapters');
    await waitForQuickPickTitle(wb, 'RepoTune adapters (1 run)');
    const after = await wb.quickInputRows();
    await wb.screenshot('manage-adapters-after-delete');
    await wb.closeQuickInput();
    if (after.length !== rows.length - 1 || !after.some((l) => l.includes('(active)'))) {
      throw new Error(`expected ${rows.length - 1} rows with the active run, got: ${after.join(' | ')}`);
    }
    return `${rows.length} runs, then ${after.length}: ${JSON.stringify(text)}`;
  });

  await check('"Pause/resume completions" toggles the setting', async () => {
    await wb.runCommand('RepoTune: Pause/resume completions');
    await wb.waitForToast([/inline completions paused/], TOAST_TIMEOUT_MS);
    await wb.runCommand('RepoTune: Pause/resume completions');
    const [, text] = await wb.waitForToast([/inline completions resumed/], TOAST_TIMEOUT_MS);
    return JSON.stringify(text);
  });

  await check('dashboard shows the loss curve, figures, evaluation table and adapters', async () => {
    // The fixture has one commit, so its runs have no holdout and no evaluation: give the active run a report in
    // evaluation.json's format (four arms), as a run on a repository with history gets, to check the table.
    const runDir = activeRunDir(storageDir);
    fs.writeFileSync(path.join(runDir, 'evaluation.json'), JSON.stringify(sampleEvaluation()));
    await wb.runCommand('RepoTune: Open dashboard');
    const page = wb.page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
    await page.locator('#runs-table tbody tr').first().waitFor({ timeout: TOAST_TIMEOUT_MS });
    await page.locator('#eval-table tbody tr').nth(3).waitFor({ timeout: TOAST_TIMEOUT_MS });
    // attached, not visible: the last run (the cancelled one) has a single point, a polyline of no size.
    await page.locator('#loss-chart polyline.loss-line').waitFor({ state: 'attached', timeout: TOAST_TIMEOUT_MS });
    const runs = await page.locator('#runs-table tbody tr').allTextContents();
    const arms = await page.locator('#eval-table tbody tr td:first-child').allTextContents();
    const verdict = (await page.locator('#gate-verdict').textContent()) ?? '';
    const figures = await page.locator('#figures div').allTextContents();
    // The ghost text accepted with Tab earlier (checks.mjs) is counted, locally, for the serving adapter.
    const acceptance = await page.locator('#acceptance-table tbody tr').first().locator('td').allTextContents();
    await wb.screenshot('dashboard');
    // Keys typed next must reach the workbench, not the webview: focus the editor tab again.
    await wb.page.click(`.tab[aria-label*="${EDIT_FILE}"]`);
    if (runs.length !== 1 || !/active/.test(runs[0])) throw new Error(`adapter rows: ${runs.join(' | ')}`);
    if (arms.join(',') !== 'base,adapter,base+retrieval,adapter+retrieval') throw new Error(`arms: ${arms.join(',')}`);
    if (!/Gate passed \(1 tasks, int4 weights, .*e2e sample verdict/.test(verdict)) throw new Error(`verdict: ${verdict}`);
    for (const f of ['Step', 'Loss', 'Tokens/s', 'ETA', 'Device memory']) {
      if (!figures.some((t) => t.startsWith(f))) throw new Error(`figure ${f} missing: ${figures.join(' | ')}`);
    }
    if (!(Number(acceptance[2]) >= 1)) throw new Error(`acceptance row (adapter, shown, accepted, …): ${acceptance.join(' | ')}`);
    return `${runs.length} run, ${arms.length} arms, ${figures.join(' · ')}; completions ${acceptance.join(' | ')}`;
  });

  await check('"Export adapter" writes the PEFT folder into a chosen folder', async () => {
    const target = path.join(path.dirname(hfHome), 'export-peft');
    fs.mkdirSync(target, { recursive: true });
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.runCommand('RepoTune: Export adapter');
    await waitForQuickPickTitle(wb, 'export run');
    await wb.page.click(`${SELECTORS.quickInputRows}:has-text("PEFT adapter folder")`);
    // VS Code's own folder dialog in a remote window: a path box. Type the folder, accept it.
    await waitForQuickPickTitle(wb, 'folder for the PEFT adapter folder');
    // The dialog fills its box with the default folder after it shows: typing before that is overwritten. Then
    // type the folder as a user does (the dialog follows keystrokes; a trailing slash moves into the folder).
    const box = '.quick-input-widget .quick-input-box input';
    await wb.page.waitForFunction((sel) => (document.querySelector(sel)?.value ?? '').length > 0, box, { timeout: EXPORT_TIMEOUT_MS });
    await wb.page.click(box);
    await wb.page.keyboard.press('Control+A');
    await wb.page.keyboard.type(`${target}/`, { delay: TYPE_DELAY_MS });
    await sleep(DIALOG_SETTLE_MS); // the dialog reads the typed path before it accepts it
    const ok = await wb.page.$('.quick-input-widget .monaco-button:has-text("Export here")');
    if (ok && (await ok.isVisible())) await ok.click();
    else await wb.page.keyboard.press('Enter');
    await sleep(DIALOG_SETTLE_MS);
    // Enter may have opened the folder in the dialog instead of choosing it: a second Enter chooses it.
    if (await wb.page.$eval(QUICK_INPUT_TITLE, (e) => !!e.offsetParent && /folder for the/.test(e.textContent ?? '')).catch(() => false)) {
      await wb.page.keyboard.press('Enter');
    }
    // If the dialog kept its default (the workspace folder, not empty), RepoTune asks, and must not offer to
    // replace the workspace's contents: only a new subfolder.
    let asked = '';
    const modal = await wb.page.waitForSelector('.monaco-dialog-box', { timeout: DIALOG_SETTLE_MS * 3 }).catch(() => null);
    if (modal) {
      asked = (await modal.textContent()) ?? '';
      // `target` is empty, so a question is about the default folder: the workspace, never to be replaced.
      if (/Replace its contents/.test(asked)) throw new Error(`offered to replace the workspace: ${asked}`);
      await wb.page.click('.monaco-dialog-box .monaco-button:has-text("Export into a new subfolder")');
    }
    const [which, text] = await wb.waitForToast([/exported run .* as PEFT adapter folder to/, /failed|cancelled|not running/i], EXPORT_TIMEOUT_MS);
    await wb.screenshot('exported');
    if (which !== 0) throw new Error(text);
    const exportedTo = text.match(/ to (\S+) \(/)?.[1] ?? target;
    const files = fs.readdirSync(exportedTo).sort();
    if (!files.includes('adapter_config.json') || !files.includes('adapter_model.safetensors')) throw new Error(`${exportedTo} holds: ${files.join(', ')}`);
    if (asked) fs.rmSync(exportedTo, { recursive: true, force: true }); // keep the fixture workspace as it was
    return `${JSON.stringify(text.slice(0, 140))}; ${files.join(', ')}${asked ? ' (the dialog kept the workspace folder; exported into a new subfolder)' : ''}`;
  });

  await check('"Choose model" downloads a preset from the hub, resuming once, and sets the model directory', async () => {
    // The fake hub serves the demo model this run generated, under the preset's repository id.
    hub.modelDir = path.join(storageDir, 'models', 'demo-tiny-qwen2');
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.runCommand('RepoTune: Choose model');
    await waitForQuickPickTitle(wb, 'choose the model');
    const rows = await wb.quickInputRows();
    await wb.screenshot('choose-model');
    for (const p of MODEL_PRESET_ROWS) if (!rows.some((r) => r.includes(p))) throw new Error(`no "${p}" row: ${rows.join(' | ')}`);
    await wb.page.keyboard.type('Qwen2.5-Coder 0.5B');
    await wb.page.keyboard.press('Enter');
    const [which, text] = await wb.waitForToast([/downloaded Qwen\/Qwen2.5-Coder-0.5B; fine-tuning will use/, /failed|cancelled|not running/i], DOWNLOAD_TIMEOUT_MS);
    await wb.screenshot('model-downloaded');
    if (which !== 0) throw new Error(text);
    if (hub.rangeRequests.length !== 1) throw new Error(`expected one resumed (Range) request, got: ${hub.rangeRequests.join(', ') || 'none'}`);
    const snapshot = text.match(/will use (\S+?)\.?$/)?.[1] ?? '';
    if (!snapshot.startsWith(path.join(hfHome, 'hub', 'models--Qwen--Qwen2.5-Coder-0.5B', 'snapshots'))) throw new Error(`unexpected model dir ${snapshot}`);
    const weights = fs.readFileSync(path.join(snapshot, 'model.safetensors'));
    if (!weights.equals(fs.readFileSync(path.join(hub.modelDir, 'model.safetensors')))) throw new Error('downloaded weights differ from the served ones');
    return `${JSON.stringify(text.slice(0, 90))}; resumed with ${hub.rangeRequests[0]}`;
  });

}

/** The run folder active.json points at, under the extension's global storage. */
function activeRunDir(storageDir) {
  const workspaces = path.join(storageDir, 'workspaces');
  for (const ws of fs.readdirSync(workspaces)) {
    const pointer = path.join(workspaces, ws, 'active.json');
    if (fs.existsSync(pointer)) return JSON.parse(fs.readFileSync(pointer, 'utf8')).runDir;
  }
  throw new Error(`no active.json under ${workspaces}`);
}

function sampleEvaluation() {
  const iv = (mean) => ({ mean, low: mean - 0.05, high: mean + 0.05 });
  const arm = (name, m) => ({ name, exactMatch: iv(m / 2), editSimilarity: iv(m), firstLineExactMatch: iv(m / 3), scores: [], predictions: [] });
  return {
    version: 1,
    seed: 0,
    tasks: [{ id: 't', kind: 'next-line', target: 'x' }],
    arms: [arm('base', 0.3), arm('adapter', 0.4), arm('base+retrieval', 0.35), arm('adapter+retrieval', 0.5)],
    bitsPerByte: { base: 5.9, adapter: 4.9 },
    weights: { base: 'int4', adapter: 'int4' },
    gate: { activate: true, reason: 'e2e sample verdict', compared: ['adapter+retrieval', 'base+retrieval'], difference: iv(0.15) },
    createdAt: new Date().toISOString(),
  };
}

/** Waits for a QuickPick whose title contains `text`. */
async function waitForQuickPickTitle(wb, text) {
  return wb.waitFor(
    `QuickPick "${text}"`,
    async () => {
      const title = await wb.page.$eval(QUICK_INPUT_TITLE, (e) => (e.offsetParent ? e.textContent : null)).catch(() => null);
      return title && title.includes(text) ? title : null;
    },
    TOAST_TIMEOUT_MS,
  );
}

