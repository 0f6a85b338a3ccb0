/** Text of the fine-tune progress notification; no 'vscode' import so it is unit-tested in plain Node. */
import type { ProgressParams } from '../server/src/protocol';

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** "training: step 12/40 · loss 2.314 · 1,234 tok/s · ETA 1m 05s" — only the parts the sidecar sent. */
export function formatProgress(p: ProgressParams): string {
  const parts: string[] = [];
  if (p.step !== undefined && p.totalSteps) parts.push(`step ${p.step}/${p.totalSteps}`);
  if (p.loss !== undefined && Number.isFinite(p.loss)) parts.push(`loss ${p.loss.toFixed(3)}`);
  if (p.tokensPerSecond !== undefined && Number.isFinite(p.tokensPerSecond)) {
    parts.push(`${Math.round(p.tokensPerSecond).toLocaleString('en-US')} tok/s`);
  }
  if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds)) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  // "Training…" + ": step 3/12" reads badly: drop a trailing ellipsis when details follow.
  const head = parts.length ? (p.message || p.stage).replace(/(\.\.\.|…)\s*$/, '') : p.message || p.stage;
  return parts.length ? `${head}: ${parts.join(' · ')}` : head;
}

/**
 * VS Code's progress `increment` is relative and the bar never goes back: turn an absolute percent into the
 * step still missing, ignoring unknown or backwards values.
 */
export function progressIncrement(alreadyReported: number, percent: number | undefined): number {
  if (percent === undefined || !Number.isFinite(percent)) return 0;
  const target = Math.min(100, Math.max(0, percent));
  return target > alreadyReported ? target - alreadyReported : 0;
}
