/**
 * The 'RepoTune' log output channel. The LanguageClient writes into the same channel (its own messages and the
 * sidecar's stderr), so one place holds everything a user needs to attach to a bug report.
 */
import * as vscode from 'vscode';
import type { LogLevelName } from './settingsSchema';

const CHANNEL_NAME = 'RepoTune';
const LEVEL_RANK: Record<LogLevelName, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  private level: LogLevelName = 'info';

  constructor() {
    this.channel = vscode.window.createOutputChannel(CHANNEL_NAME, { log: true });
  }

  /** The repotune.logLevel setting filters what this class writes; VS Code's own log level still applies too. */
  setLevel(level: LogLevelName): void {
    this.level = level;
  }

  private enabled(level: LogLevelName): boolean {
    return LEVEL_RANK[level] <= LEVEL_RANK[this.level];
  }

  error(message: string, err?: unknown): void {
    this.channel.error(err === undefined ? message : `${message}: ${describeError(err)}`);
  }

  warn(message: string): void {
    if (this.enabled('warn')) this.channel.warn(message);
  }

  info(message: string): void {
    if (this.enabled('info')) this.channel.info(message);
  }

  debug(message: string): void {
    if (this.enabled('debug')) this.channel.debug(message);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}

/** One line for the user: the message of an Error (or an LSP ResponseError), never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
