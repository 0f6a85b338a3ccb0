/** The RepoTune status bar item: renders the StatusModel state machine (statusModel.ts). */
import * as vscode from 'vscode';
import type { ProgressParams, StatusParams } from '../server/src/protocol';
import { readConfig } from './config';
import { COMMANDS } from './settingsSchema';
import { tooltipMarkdown } from './statusTooltip';
import {
  INITIAL_STATUS,
  applyProgress,
  applyStatus,
  renderStatus,
  serverStopped,
  type StatusModel,
} from './statusModel';

const STATUS_BAR_PRIORITY = 100;

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private model: StatusModel = INITIAL_STATUS;

  constructor() {
    this.item = vscode.window.createStatusBarItem('repotune.status', vscode.StatusBarAlignment.Right, STATUS_BAR_PRIORITY);
    this.item.name = 'RepoTune';
    this.item.command = COMMANDS.showLogs.command;
    this.render();
    this.item.show();
  }

  get state(): StatusModel['state'] {
    return this.model.state;
  }

  starting(): void {
    this.model = INITIAL_STATUS;
    this.render();
  }

  onStatus(status: StatusParams): void {
    this.model = applyStatus(this.model, status);
    this.render();
  }

  onProgress(progress: ProgressParams): void {
    this.model = applyProgress(this.model, progress);
    this.render();
  }

  stopped(message: string): void {
    this.model = serverStopped(message);
    this.render();
  }

  /** Re-renders with the current settings (the tooltip offers pause or resume). */
  refresh(): void {
    this.render();
  }

  private render(): void {
    const view = renderStatus(this.model);
    this.item.text = view.text;
    const { markdown, commands } = tooltipMarkdown(view.tooltip, readConfig().completionsEnabled);
    const tooltip = new vscode.MarkdownString(markdown, true);
    // Links may run these RepoTune commands and nothing else.
    tooltip.isTrusted = { enabledCommands: commands };
    this.item.tooltip = tooltip;
    // Screen readers (and the e2e test) get the state in words rather than an icon.
    this.item.accessibilityInformation = { label: `RepoTune ${this.model.state}: ${this.model.message}` };
    this.item.backgroundColor = view.isError ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
