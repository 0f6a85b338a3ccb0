// The first-run checks, before the main ones (checks.mjs) on the same fresh profile: the walkthrough opens by
// itself on the first activation with its steps, "Check environment" reports the trainer Python's facts and ticks
// its step, "Create trainer environment" shows its progress and cancels cleanly (no pip install here: far too slow,
// and offline).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SELECTORS } from './workbench.mjs';
import { checkRunner } from './checkRunner.mjs';

const ACTIVATION_TIMEOUT_MS = 60_000;
const WALKTHROUGH_TIMEOUT_MS = 30_000;
/** The sidecar starts, then asks the worker (which imports torch) for its environment. */
const CHECK_TIMEOUT_MS = 60_000;
const SETUP_PROGRESS_TIMEOUT_MS = 30_000;
const CANCEL_TIMEOUT_MS = 30_000;
const WALKTHROUGH = '.gettingStartedContainer';
const STEP = (id) => `button.getting-started-step[data-step-id$="${id}"]`;
const STEP_TITLES = ['Check the environment', 'Create the trainer environment', 'Choose a model', 'Fine-tune on this repository', 'Watch it train (optional)'];

export async function runFirstRunChecks(wb, { url, storageDir, loadTimeoutMs }) {
  const { check, results } = checkRunner(wb);
  const visibleText = () => wb.page.$eval(WALKTHROUGH, (e) => (e.offsetParent ? e.innerText : '')).catch(() => '');

  await check('first activation opens the RepoTune walkthrough with its steps', async () => {
    await wb.open(url, loadTimeoutMs);
    await wb.waitFor('RepoTune status bar item', () => wb.repoTuneStatus(), ACTIVATION_TIMEOUT_MS);
    // The title renders before the steps (a busy machine shows the gap): wait for the page with every step.
    let text = '';
    await wb
      .waitFor('the walkthrough with its steps', async () => {
        text = await visibleText();
        return text.includes('Get started with RepoTune') && STEP_TITLES.every((t) => text.includes(t)) ? text : null;
      }, WALKTHROUGH_TIMEOUT_MS)
      .catch((err) => {
        const missing = STEP_TITLES.filter((t) => !text.includes(t));
        throw missing.length && text.includes('Get started with RepoTune') ? new Error(`steps missing: ${missing.join(', ')}`) : err;
      });
    await wb.screenshot('walkthrough');
    return `${STEP_TITLES.length} steps`;
  });

  await check('"Check environment" reports Python, torch and CUDA and ticks its step', async () => {
    await wb.runCommand('RepoTune: Check environment');
    const [which, text] = await wb.waitForToast([/RepoTune: (CPU only|GPU ready)/, /Python missing|packages missing|failed|not running/i], CHECK_TIMEOUT_MS);
    if (which !== 0) throw new Error(text);
    for (const fact of [/Python 3\.\d+\.\d+ \(\//, /torch \d+\.\d+/, /CUDA: (no|yes)/]) {
      if (!fact.test(text)) throw new Error(`"${text}" lacks ${fact}`);
    }
    await wb.waitFor('the step ticked', async () => (await wb.page.$(`${STEP('checkEnvironment')}[aria-checked="true"]`)) !== null || null, WALKTHROUGH_TIMEOUT_MS);
    await wb.screenshot('check-environment');
    return JSON.stringify(text.slice(0, 160));
  });

  await check('"Create trainer environment" from its walkthrough step shows progress; Cancel leaves nothing behind', async () => {
    // The way a new user starts it: expand the step, press its button (the palette would do the same command).
    await wb.page.click(STEP('setupEnvironment'), { timeout: WALKTHROUGH_TIMEOUT_MS });
    await wb.page.click(`${STEP('setupEnvironment')} .button-container .monaco-button`, { timeout: WALKTHROUGH_TIMEOUT_MS });
    const [, progress] = await wb.waitForToast([/creating a virtual environment|installing/], SETUP_PROGRESS_TIMEOUT_MS);
    await wb.screenshot('setup-environment-progress');
    await wb.page.click(`${SELECTORS.toasts} .monaco-button:has-text("Cancel")`, { timeout: SETUP_PROGRESS_TIMEOUT_MS });
    const [which, text] = await wb.waitForToast([/cancelled; nothing half-made is kept/, /failed|is ready/i], CANCEL_TIMEOUT_MS);
    if (which !== 0) throw new Error(`expected a cancellation, got: ${text}`);
    const venv = path.join(storageDir, 'venv');
    await wb.waitFor(`${venv} removed`, async () => !fs.existsSync(venv) || null, CANCEL_TIMEOUT_MS);
    await wb.waitFor('the step ticked', async () => (await wb.page.$(`${STEP('setupEnvironment')}[aria-checked="true"]`)) !== null || null, WALKTHROUGH_TIMEOUT_MS);
    return `${JSON.stringify(progress.slice(0, 90))} → ${JSON.stringify(text)}`;
  });

  return results;
}
