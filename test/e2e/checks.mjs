// The e2e checks, in order. Each later check needs the earlier ones, so after a failure the rest are reported as
// failed ("not run") rather than hanging on a broken precondition.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EDIT_FILE, TYPED_TEXT } from './fixture.mjs';
import { SELECTORS } from './workbench.mjs';
import { runManagementChecks } from './managementChecks.mjs';
import { checkRunner } from './checkRunner.mjs';

const ACTIVATION_TIMEOUT_MS = 60_000;
const SIDECAR_READY_TIMEOUT_MS = 60_000;
const TOAST_TIMEOUT_MS = 15_000;
/** Demo model generation (~8 s) + harvest + a short training run + ONNX export, on 2 CPU cores. */
const FINE_TUNE_TIMEOUT_MS = 6 * 60_000;
const GHOST_TEXT_TIMEOUT_MS = 45_000;
/** Without ghost text after this long, ask for it explicitly (Alt+\ = editor.action.inlineSuggest.trigger). */
const GHOST_RETRIGGER_MS = 8_000;
const ACCEPT_TIMEOUT_MS = 10_000;
/** From the Cancel click to the sidecar's answer: the trainer stops at its next step. */
const CANCEL_TIMEOUT_MS = 30_000;
const PROGRESS_SHOT_FALLBACK_MS = 20_000;
/** The form appears once the sidecar is up and has scanned the repository for its model classes. */
const GENERATE_FORM_TIMEOUT_MS = 45_000;
/** Up to 3 attempts of up to 768 tokens each with the demo model on 2 cores, plus loading the export. */
const GENERATE_TIMEOUT_MS = 3 * 60_000;
const GENERATE_TASK = 'tiny classifier for shapes';
const GENERATE_CLASS = 'class TinyClassifierShapesModel(nn.Module):';
const QUICK_INPUT_TITLE = '.quick-input-widget .quick-input-title';
/** Demo model generation (~8 s) + the harvest, until the "Start training?" question (repotune.confirmBeforeTraining). */
const HARVEST_SUMMARY_TIMEOUT_MS = 90_000;
const HARVEST_QUESTION = /harvested the workspace: .*Start training\?/;

const COMMAND_TITLES = [
  'RepoTune: Fine-tune on workspace',
  'RepoTune: Generate model code',
  'RepoTune: Show logs',
  'RepoTune: Restart server',
  'RepoTune: Manage adapters',
  'RepoTune: Pause/resume completions',
  'RepoTune: Open dashboard',
  'RepoTune: Choose model',
  'RepoTune: Export adapter',
];

export async function runChecks(wb, { url, workspace, storageDir, hub, hfHome, uiOnly, loadTimeoutMs }) {
  const { check, results } = checkRunner(wb);

  await check('workbench opens the fixture workspace', async () => {
    await wb.open(url, loadTimeoutMs);
    await wb.screenshot('workbench');
  });

  await check('extension activates (status bar item)', async () => {
    const label = await wb.waitFor('RepoTune status bar item', () => wb.repoTuneStatus(), ACTIVATION_TIMEOUT_MS);
    await wb.screenshot('activated');
    return label.trim();
  });

  await check('commands are in the command palette', async () => {
    const rows = await wb.paletteRows('RepoTune');
    await wb.screenshot('palette');
    await wb.closeQuickInput();
    const missing = COMMAND_TITLES.filter((t) => !rows.some((r) => r.includes(t)));
    if (missing.length) throw new Error(`missing: ${missing.join(', ')} (rows: ${rows.join(' | ')})`);
    return `${COMMAND_TITLES.length} commands`;
  });

  await check('"Generate model code" opens its form', async () => {
    await wb.runCommand('RepoTune: Generate model code');
    const title = await waitForFormStep(wb, 1, GENERATE_FORM_TIMEOUT_MS);
    await wb.screenshot('generate-model-code-form');
    await wb.closeQuickInput(); // Escape ends the form: nothing is generated
    return JSON.stringify(title);
  });

  if (uiOnly) return results;

  await check('sidecar starts', async () => {
    const label = await wb.waitFor(
      'RepoTune idle/serving status',
      async () => {
        const l = (await wb.repoTuneStatus()) ?? '';
        if (/RepoTune (stopped|error)/.test(l)) throw new Error(`status bar says: ${l.trim()}`);
        return /RepoTune (idle|serving)/.test(l) ? l : null;
      },
      SIDECAR_READY_TIMEOUT_MS,
    );
    return label.trim();
  });

  await check('fine-tune on the workspace completes', async () => {
    const t0 = Date.now();
    let progressShot = false;
    await wb.runCommand('RepoTune: Fine-tune on workspace');
    const summary = await startTraining(wb);
    if (!/\d+ of \d+ files kept/.test(summary) || !/(\d+ secrets? redacted|no secrets found)/.test(summary)) {
      throw new Error(`harvest summary lacks files kept / secrets: ${summary}`);
    }
    const [which, text] = await wb.waitForToast([/fine-tuned .*on \d+ files/, /failed|cancelled|not running/i], FINE_TUNE_TIMEOUT_MS, async () => {
      // One picture of the training itself (step/loss in the notification), or whatever shows after a while.
      if (progressShot) return;
      const training = (await wb.toasts()).some((t) => /step [1-9]\d*\/\d+/.test(t));
      if (training || Date.now() - t0 > PROGRESS_SHOT_FALLBACK_MS) {
        progressShot = true;
        await wb.screenshot('fine-tune-progress');
      }
    });
    await wb.screenshot('fine-tune-done');
    if (which !== 0) throw new Error(text);
    return `${((Date.now() - t0) / 1000).toFixed(0)} s: ${text.slice(0, 120)}; asked first: ${JSON.stringify(summary.slice(0, 160))}`;
  });

  let ghost = '';
  await check('ghost text appears while typing', async () => {
    await wb.openFile(EDIT_FILE);
    await wb.page.click('.editor-instance .monaco-editor .view-lines');
    await wb.page.keyboard.press('Control+End');
    await wb.page.keyboard.type(TYPED_TEXT);
    await wb.page.keyboard.press('Enter');
    const t0 = Date.now();
    let lastTrigger = t0;
    ghost = await wb.waitFor(
      'ghost text (.ghost-text-decoration)',
      async () => {
        const g = await wb.ghostText();
        if (g.trim()) return g;
        if (Date.now() - lastTrigger > GHOST_RETRIGGER_MS) {
          lastTrigger = Date.now();
          await wb.page.keyboard.press('Alt+Backslash');
        }
        return null;
      },
      GHOST_TEXT_TIMEOUT_MS,
    );
    await wb.screenshot('ghost-text');
    return `${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(ghost.slice(0, 80))}`;
  });

  await check('Tab accepts the ghost text into the document', async () => {
    const firstLine = ghost.split('\n')[0].trim();
    await wb.page.keyboard.press('Tab');
    // The model may offer a new suggestion right after the accept, so the view (which renders ghost text inline)
    // proves nothing: save and read the file, which holds only what is really in the document.
    await wb.page.keyboard.press('Control+S');
    const file = path.join(workspace, EDIT_FILE);
    const added = await wb.waitFor(
      `saved ${EDIT_FILE} with ${JSON.stringify(firstLine)} after the typed line`,
      async () => {
        const text = fs.readFileSync(file, 'utf8');
        const at = text.indexOf(TYPED_TEXT);
        return at >= 0 && text.slice(at + TYPED_TEXT.length).includes(firstLine) ? text.slice(at) : null;
      },
      ACCEPT_TIMEOUT_MS,
    );
    await wb.screenshot('accepted');
    return `document now ends with ${JSON.stringify(added.slice(0, 100))}`;
  });

  await check('Cancel stops a running fine-tune', async () => {
    await wb.runCommand('Notifications: Clear All Notifications'); // the first run's result toast must not count
    await wb.runCommand('RepoTune: Fine-tune on workspace');
    await startTraining(wb);
    await wb.waitForToast([/step \d+\/\d+/], FINE_TUNE_TIMEOUT_MS);
    await wb.page.click(`${SELECTORS.toasts} .monaco-button:has-text("Cancel")`, { timeout: TOAST_TIMEOUT_MS });
    const [which, text] = await wb.waitForToast([/fine-tune cancelled/, /fine-tuned .*on \d+ files|failed/], CANCEL_TIMEOUT_MS);
    await wb.screenshot('cancelled');
    if (which !== 0) throw new Error(`expected a cancellation, got: ${text}`);
    return JSON.stringify(text);
  });

  await check('"Generate model code" streams into a preview; Discard closes it', async () => {
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.runCommand('RepoTune: Generate model code');
    await waitForFormStep(wb, 1, GENERATE_FORM_TIMEOUT_MS);
    await wb.page.keyboard.type(GENERATE_TASK);
    await wb.page.keyboard.press('Enter');
    // Inputs, outputs, loss (pre-filled examples), framework, checks ("Check it parses" is first): accept each.
    for (let step = 2; step <= 6; step++) {
      await waitForFormStep(wb, step, TOAST_TIMEOUT_MS);
      await wb.page.keyboard.press('Enter');
    }
    const [which, text] = await wb.waitForToast([/generated model code \(preview\)/, /generate model code failed|not running/i], GENERATE_TIMEOUT_MS);
    if (which !== 0) throw new Error(text);
    await wb.page.waitForSelector('.tab.active[aria-label*="Untitled"]', { timeout: TOAST_TIMEOUT_MS });
    const code = await wb.waitFor('the generated class in the preview', async () => ((await wb.editorText()).includes(GENERATE_CLASS) ? wb.editorText() : null), TOAST_TIMEOUT_MS);
    await wb.screenshot('generate-preview');
    await wb.page.click(`${SELECTORS.toasts} .monaco-button:has-text("Discard")`, { timeout: TOAST_TIMEOUT_MS });
    await wb.page.waitForSelector('.tab[aria-label*="Untitled"]', { state: 'detached', timeout: TOAST_TIMEOUT_MS });
    return `${JSON.stringify(text.slice(0, 140))}; preview had ${code.split('\n').length} lines`;
  });

  await runManagementChecks(wb, check, { storageDir, hub, hfHome });

  return results;
}

/** Answers the harvest summary's question (shown before any training) with "Start training"; returns its text. */
async function startTraining(wb) {
  const [, text] = await wb.waitForToast([HARVEST_QUESTION], HARVEST_SUMMARY_TIMEOUT_MS);
  await wb.screenshot('harvest-summary');
  await wb.page.click(`${SELECTORS.toasts}:has-text("Start training?") .monaco-button:has-text("Start training")`, { timeout: TOAST_TIMEOUT_MS });
  return text;
}

/** Waits for step `n` of the "Generate model code" form (its title says "(n/6)"); returns the title. */
async function waitForFormStep(wb, n, timeoutMs) {
  return wb.waitFor(
    `form step ${n}`,
    async () => {
      const title = await wb.page.$eval(QUICK_INPUT_TITLE, (e) => (e.offsetParent ? e.textContent : null)).catch(() => null);
      return title && title.includes(`Generate model code (${n}/`) ? title : null;
    },
    timeoutMs,
  );
}
