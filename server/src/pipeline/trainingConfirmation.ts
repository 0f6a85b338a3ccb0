/**
 * Between harvest and training: the harvest summary the user sees before anything is trained, and the wait for
 * their answer. The pipeline calls `PipelineDeps.onHarvested` with the summary; the sidecar either announces it
 * (training goes on) or asks the client and waits here, bounded by a timeout and the run's cancellation.
 */
import { formatSummary } from '../harvest/harvest';
import type { HarvestManifest } from '../harvest/types';
import type { HarvestSummaryParams } from '../protocol';

/** How long the sidecar waits for "Start training"; no answer by then ends the run as cancelled. */
export const CONFIRM_TRAINING_TIMEOUT_MS = 10 * 60_000;

export function harvestSummaryOf(manifest: HarvestManifest, workspace: string, manifestPath: string): HarvestSummaryParams {
  return {
    workspace,
    manifestPath,
    filesIn: manifest.filesIn,
    filesOut: manifest.filesOut,
    filesExcluded: manifest.filesExcluded,
    byReason: { ...manifest.byReason },
    bytesIn: manifest.bytesIn,
    bytes: manifest.bytes,
    languages: { ...manifest.languages },
    secretsRedacted: { ...manifest.secretsRedacted },
    trainFiles: manifest.trainFiles,
    holdoutFiles: manifest.holdoutFiles,
    text: formatSummary(manifest),
  };
}

/** One line for progress messages and the final result: files kept / left out by reason / secrets / holdout. */
export function oneLineSummary(manifest: HarvestManifest): string {
  const reasons = Object.entries(manifest.byReason)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const secrets = Object.values(manifest.secretsRedacted).reduce((a, b) => a + b, 0);
  return `${manifest.filesOut} of ${manifest.filesIn} files kept, ${manifest.filesExcluded} left out${reasons ? ` (${reasons})` : ''}; ${secrets} secrets redacted; ${manifest.holdoutFiles} held out for evaluation.`;
}

export type ConfirmationAnswer = 'start' | 'cancel' | 'timeout' | 'aborted';

/**
 * Waits for `ask()` (the client's answer) but never longer than `timeoutMs`, and not past `signal`. A failed ask
 * (client gone, request refused) counts as cancel: training never starts without a yes.
 */
export async function awaitConfirmation(
  ask: () => Promise<boolean>,
  signal: AbortSignal | undefined,
  timeoutMs = CONFIRM_TRAINING_TIMEOUT_MS,
): Promise<ConfirmationAnswer> {
  if (signal?.aborted) return 'aborted';
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<ConfirmationAnswer>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const aborted = new Promise<ConfirmationAnswer>((resolve) => {
    onAbort = () => resolve('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const answered = ask().then(
    (yes): ConfirmationAnswer => (yes ? 'start' : 'cancel'),
    (): ConfirmationAnswer => 'cancel',
  );
  try {
    return await Promise.race([answered, timeout, aborted]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
