/** The evaluation report as a table for the CLI (the same data is written as JSON beside the adapter). */
import type { EvalReport } from './evaluate';
import type { Estimate } from './metrics';

const pct = (e: Estimate) => `${(e.mean * 100).toFixed(1)} [${(e.low * 100).toFixed(1)}, ${(e.high * 100).toFixed(1)}]`;

export function formatReport(report: EvalReport): string {
  const header = ['arm', 'exact match %', 'edit similarity %', 'first-line EM %'];
  const rows = report.arms.map((a) => [a.name, pct(a.exactMatch), pct(a.editSimilarity), pct(a.firstLineExactMatch)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  const w = report.weights;
  const weights = !w ? '' : w.base === w.adapter ? `, ${w.base} weights` : `, base ${w.base} and adapter ${w.adapter} weights`;
  return [
    `${report.tasks.length} completion tasks from the holdout${weights} (95% bootstrap intervals in brackets)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `bits per byte on the holdout: base ${report.bitsPerByte.base.toFixed(3)}, adapter ${report.bitsPerByte.adapter.toFixed(3)}`,
    ...(report.checkpoint ? [`checkpoint: ${report.checkpoint.reason}`] : []),
    ...(report.forgetting
      ? [`forgetting (${report.forgetting.tasks} tasks of the previous holdout): previous adapter ${pct(report.forgetting.previousScore)}, new ${pct(report.forgetting.newScore)} edit similarity %. ${report.forgetting.reason}`]
      : []),
    `gate: ${report.gate.reason}`,
  ].join('\n');
}
