/**
 * The status bar tooltip as Markdown: the state in words, then links to the commands a user reaches for from there.
 * Pure (no 'vscode'); statusBar.ts wraps it in a MarkdownString trusted for exactly `commands`.
 */
import { COMMANDS } from './settingsSchema';

export interface TooltipMarkdown {
  markdown: string;
  /** The only commands the tooltip's links may run. */
  commands: string[];
}

/** Escapes Markdown so a message (paths, underscores, asterisks) shows as written. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

export function tooltipMarkdown(text: string, completionsEnabled: boolean): TooltipMarkdown {
  const links: Array<[string, string]> = [
    [COMMANDS.openDashboard.command, '$(graph-line) Open dashboard'],
    [COMMANDS.manageAdapters.command, '$(versions) Manage adapters'],
    [COMMANDS.toggleCompletions.command, completionsEnabled ? '$(debug-pause) Pause completions' : '$(play) Resume completions'],
    [COMMANDS.showLogs.command, '$(output) Show logs'],
    [COMMANDS.restartServer.command, '$(debug-restart) Restart server'],
  ];
  const body = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(escapeMarkdown)
    .join('  \n');
  const paused = completionsEnabled ? '' : '\n\n**Completions are paused.**';
  const menu = links.map(([id, title]) => `[${title}](command:${id})`).join(' · ');
  return { markdown: `${body}${paused}\n\n---\n\n${menu}`, commands: links.map(([id]) => id) };
}
