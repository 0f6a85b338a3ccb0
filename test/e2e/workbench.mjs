// Playwright helpers that drive the VS Code workbench the way a user does: command palette, notifications,
// status bar, editor. Selectors are the workbench's own CSS classes (stable across recent VS Code versions).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep } from './processes.mjs';

const UI_TIMEOUT_MS = 15_000;
const POLL_MS = 250;

export const SELECTORS = {
  workbench: '.monaco-workbench',
  explorerRows: '.explorer-folders-view .monaco-list-row',
  quickInput: '.quick-input-widget',
  quickInputRows: '.quick-input-widget .quick-input-list .monaco-list-row',
  quickInputBox: '.quick-input-widget .quick-input-box input',
  toasts: '.notifications-toasts .notification-toast',
  toastMessages: '.notifications-toasts .notification-toast .notification-list-item-message',
  statusBarItems: '.statusbar-item',
  editorLines: '.editor-instance .monaco-editor .view-lines',
  ghostText: '.ghost-text-decoration',
  hoverLinks: '.workbench-hover a, .monaco-hover a',
};

export class Workbench {
  constructor(page, shotsDir) {
    this.page = page;
    this.shotsDir = shotsDir;
    this.shotCount = 0;
  }

  async open(url, timeoutMs) {
    await this.page.goto(url, { timeout: timeoutMs });
    await this.page.waitForSelector(SELECTORS.workbench, { timeout: timeoutMs });
    // The explorer listing the workspace's files means the remote connection and the folder are up.
    await this.page.waitForSelector(SELECTORS.explorerRows, { timeout: timeoutMs });
  }

  async screenshot(name) {
    fs.mkdirSync(this.shotsDir, { recursive: true });
    const file = path.join(this.shotsDir, `${String(++this.shotCount).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file }).catch(() => undefined);
    return file;
  }

  /** Opens the command palette with `query` typed; returns the labels of the rows shown. */
  async paletteRows(query) {
    await this.page.keyboard.press('F1');
    await this.page.waitForSelector(SELECTORS.quickInputBox, { state: 'visible', timeout: UI_TIMEOUT_MS });
    await this.page.keyboard.type(query);
    await sleep(POLL_MS * 2); // the list filters asynchronously
    await this.page.waitForSelector(SELECTORS.quickInputRows, { timeout: UI_TIMEOUT_MS }).catch(() => undefined);
    return this.page.$$eval(SELECTORS.quickInputRows, (rows) => rows.map((r) => r.getAttribute('aria-label') ?? r.textContent ?? ''));
  }

  async closeQuickInput() {
    await this.page.keyboard.press('Escape');
    await this.page.waitForSelector(SELECTORS.quickInput, { state: 'hidden', timeout: UI_TIMEOUT_MS }).catch(() => undefined);
  }

  /** Runs a command by its palette title ("RepoTune: Fine-tune on workspace"). */
  async runCommand(title) {
    let rows = await this.paletteRows(title);
    // On a busy machine the list may still be unfiltered after paletteRows' pause: give it until UI_TIMEOUT_MS.
    const deadline = Date.now() + UI_TIMEOUT_MS;
    while (!rows.some((r) => r.includes(title)) && Date.now() < deadline) {
      // Keys typed before the box had focus are lost on a busy machine (seen in CI: the unfiltered list of every
      // command, starting at "Accounts: …"): put the query back when the box does not hold it.
      const value = await this.page.inputValue(SELECTORS.quickInputBox).catch(() => '');
      if (!value.includes(title)) await this.page.fill(SELECTORS.quickInputBox, `>${title}`).catch(() => undefined);
      await sleep(POLL_MS);
      rows = await this.quickInputRows();
    }
    if (!rows.some((r) => r.includes(title))) {
      await this.closeQuickInput();
      throw new Error(`command "${title}" is not in the command palette (rows: ${rows.join(' | ') || 'none'})`);
    }
    await this.page.keyboard.press('Enter');
  }

  /** Opens a workspace file by name through Quick Open. */
  async openFile(name) {
    await this.page.keyboard.press('F1');
    await this.page.waitForSelector(SELECTORS.quickInputBox, { state: 'visible', timeout: UI_TIMEOUT_MS });
    await this.page.keyboard.press('Backspace'); // drop the ">" prefix: commands → files
    await this.page.keyboard.type(name);
    await this.page.waitForSelector(`${SELECTORS.quickInputRows}[aria-label*="${name}"]`, { timeout: UI_TIMEOUT_MS });
    await this.page.keyboard.press('Enter');
    await this.page.waitForSelector(`.tab[aria-label*="${name}"]`, { timeout: UI_TIMEOUT_MS });
    await this.page.waitForSelector(SELECTORS.editorLines, { timeout: UI_TIMEOUT_MS });
  }

  /** The visible QuickPick rows: aria-label and rendered text (label, description and detail). */
  async quickInputRows() {
    return this.page.$$eval(SELECTORS.quickInputRows, (rows) => rows.map((r) => `${r.getAttribute('aria-label') ?? ''} ${r.textContent ?? ''}`));
  }

  async toasts() {
    return this.page.$$eval(SELECTORS.toastMessages, (els) => els.map((e) => e.textContent ?? ''));
  }

  /** Waits until a notification toast matches one of `patterns`; returns [index of the pattern, text]. */
  async waitForToast(patterns, timeoutMs, onPoll = async () => {}) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const text of await this.toasts()) {
        const i = patterns.findIndex((p) => p.test(text));
        if (i >= 0) return [i, text];
      }
      await onPoll();
      await sleep(POLL_MS * 2);
    }
    throw new Error(`no notification matching ${patterns.join(' or ')} within ${timeoutMs / 1000} s (shown: ${(await this.toasts()).join(' | ') || 'none'})`);
  }

  /** aria-label of the RepoTune status bar item, or null while it is not there. */
  async repoTuneStatus() {
    const labels = await this.page.$$eval(SELECTORS.statusBarItems, (els) =>
      els.map((e) => `${e.getAttribute('aria-label') ?? ''} ${e.textContent ?? ''}`),
    );
    return labels.find((l) => l.includes('RepoTune')) ?? null;
  }

  async waitFor(description, predicate, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await predicate();
      if (last) return last;
      await sleep(POLL_MS);
    }
    throw new Error(`${description}: not seen within ${timeoutMs / 1000} s`);
  }

  /** Text of the visible editor lines (non-breaking spaces normalised). */
  async editorText() {
    const text = await this.page.$eval(SELECTORS.editorLines, (el) => el.innerText);
    return text.replace(/\u00a0/g, ' ');
  }

  async ghostText() {
    const parts = await this.page.$$eval(SELECTORS.ghostText, (els) => els.map((e) => e.textContent ?? ''));
    return parts.join('').replace(/\u00a0/g, ' ');
  }
}
