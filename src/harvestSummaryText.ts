/**
 * The text of the "before training" question: what the harvest kept and left out, in one sentence a user reads in
 * a notification. No 'vscode' import, so it is unit-tested in plain Node.
 */
import type { HarvestSummaryParams } from '../server/src/protocol';

/** Reasons or rules listed by name before the rest is summed up as "…". */
const MAX_LISTED = 4;

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** "generated 3, vendored 2, lockfile 1, …" — largest first. */
function listCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries.slice(0, MAX_LISTED).map(([k, n]) => `${k} ${n}`);
  return entries.length > MAX_LISTED ? `${shown.join(', ')}, …` : shown.join(', ');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function harvestSummaryText(s: HarvestSummaryParams): string {
  const excluded = s.filesExcluded === 0 ? 'nothing left out' : `${s.filesExcluded} left out (${listCounts(s.byReason)})`;
  const secrets = total(s.secretsRedacted);
  const secretText = secrets === 0 ? 'no secrets found' : `${secrets} secret${secrets === 1 ? '' : 's'} redacted (${listCounts(s.secretsRedacted)})`;
  const languages = Object.keys(s.languages).length ? `; ${listCounts(s.languages)}` : '';
  return (
    `${s.filesOut} of ${s.filesIn} files kept (${formatBytes(s.bytes)}${languages}), ${excluded}; ${secretText}; ` +
    `${s.trainFiles} to train on, ${s.holdoutFiles} held out for evaluation.`
  );
}

/** The choices offered before training, in order (the first is the default action). */
export const CONFIRM_CHOICES = { start: 'Start training', manifest: 'Show manifest', cancel: 'Cancel' } as const;
