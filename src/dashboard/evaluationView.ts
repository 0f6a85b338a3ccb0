/**
 * evaluation.json (server/src/eval/evaluate.ts EvalReport) reduced to what the dashboard's table shows: per arm
 * the three metrics with their 95 % intervals, bits per byte, the weights evaluated, and the gate's verdict. Defensive: the file comes
 * from disk and may be from an older or newer version, so anything malformed yields null, not a broken page.
 */

export interface Interval {
  mean: number;
  low: number;
  high: number;
}

export interface EvaluationView {
  tasks: number;
  arms: { name: string; exactMatch: Interval; editSimilarity: Interval; firstLineExactMatch: Interval }[];
  bitsPerByte?: { base: number; adapter: number };
  /** "int4", or "base fp32, adapter int4" when the arms differ; absent in reports from before it was recorded. */
  weights?: string;
  gate: { activate: boolean; reason: string; compared?: [string, string]; difference?: Interval };
  createdAt?: string;
}

function interval(x: unknown): Interval | undefined {
  const o = x as Partial<Interval> | undefined;
  return o && [o.mean, o.low, o.high].every((v) => typeof v === 'number' && Number.isFinite(v)) ? (o as Interval) : undefined;
}

export function evaluationView(report: unknown): EvaluationView | null {
  const r = report as Record<string, any> | null;
  if (!r || !Array.isArray(r.arms) || typeof r.gate?.reason !== 'string') return null;
  const arms: EvaluationView['arms'] = [];
  for (const arm of r.arms) {
    const exactMatch = interval(arm?.exactMatch);
    const editSimilarity = interval(arm?.editSimilarity);
    const firstLineExactMatch = interval(arm?.firstLineExactMatch);
    if (typeof arm?.name !== 'string' || !exactMatch || !editSimilarity || !firstLineExactMatch) return null;
    arms.push({ name: arm.name, exactMatch, editSimilarity, firstLineExactMatch });
  }
  const bpb = r.bitsPerByte;
  const w = r.weights;
  const weights = typeof w?.base !== 'string' || typeof w?.adapter !== 'string' ? undefined : w.base === w.adapter ? w.base : `base ${w.base}, adapter ${w.adapter}`;
  const difference = interval(r.gate.difference);
  return {
    tasks: Array.isArray(r.tasks) ? r.tasks.length : 0,
    arms,
    ...(typeof bpb?.base === 'number' && typeof bpb?.adapter === 'number' ? { bitsPerByte: { base: bpb.base, adapter: bpb.adapter } } : {}),
    ...(weights ? { weights } : {}),
    gate: {
      activate: r.gate.activate === true,
      reason: r.gate.reason,
      ...(Array.isArray(r.gate.compared) && r.gate.compared.length === 2 ? { compared: [String(r.gate.compared[0]), String(r.gate.compared[1])] as [string, string] } : {}),
      ...(difference ? { difference } : {}),
    },
    ...(typeof r.createdAt === 'string' ? { createdAt: r.createdAt } : {}),
  };
}
