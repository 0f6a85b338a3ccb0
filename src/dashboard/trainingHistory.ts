/**
 * The running (or last) fine-tune as the dashboard draws it: loss points, eval-loss points and the latest figures
 * (tokens/s, ETA, device memory). Fed from the sidecar's progress notifications; kept by Ctx for the session, so a
 * dashboard opened after a run still shows its curve. Pure (no 'vscode').
 */
import type { ProgressParams, Stage } from '../../server/src/protocol';

/** Points kept per curve: long runs are thinned to every other point when this fills, so memory stays flat. */
export const MAX_CURVE_POINTS = 2_000;

export interface CurvePoint {
  step: number;
  value: number;
}

export interface TrainingSnapshot {
  stage: Stage | 'none';
  message: string;
  step?: number;
  totalSteps?: number;
  loss: CurvePoint[];
  evalLoss: CurvePoint[];
  tokensPerSecond?: number;
  etaSeconds?: number;
  deviceMemoryBytes?: number;
}

export const EMPTY_TRAINING: TrainingSnapshot = { stage: 'none', message: 'No fine-tune in this session yet.', loss: [], evalLoss: [] };

function addPoint(points: CurvePoint[], step: number, value: number): CurvePoint[] {
  const last = points[points.length - 1];
  if (last && last.step === step) return [...points.slice(0, -1), { step, value }];
  const next = [...points, { step, value }];
  return next.length > MAX_CURVE_POINTS ? next.filter((_, i) => i % 2 === 0 || i === next.length - 1) : next;
}

export function applyTrainingProgress(snap: TrainingSnapshot, p: ProgressParams): TrainingSnapshot {
  // A new run starts with the 'model' stage at 0 %: its curve must not continue the previous run's.
  const fresh = p.stage === 'model' && (p.percent ?? 0) === 0;
  const base = fresh ? { ...EMPTY_TRAINING } : snap;
  const finite = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
  let { loss, evalLoss } = base;
  if (p.stage === 'train' && finite(p.step) && p.step > 0) {
    if (finite(p.loss)) loss = addPoint(loss, p.step, p.loss);
    // The trainer repeats its last eval loss on every step: only a changed value is a new measurement.
    if (finite(p.evalLoss) && evalLoss[evalLoss.length - 1]?.value !== p.evalLoss) evalLoss = addPoint(evalLoss, p.step, p.evalLoss);
  }
  return {
    stage: p.stage,
    message: p.message || base.message,
    step: p.step ?? base.step,
    totalSteps: p.totalSteps ?? base.totalSteps,
    loss,
    evalLoss,
    tokensPerSecond: p.tokensPerSecond ?? base.tokensPerSecond,
    etaSeconds: p.stage === 'train' ? p.etaSeconds ?? base.etaSeconds : undefined,
    deviceMemoryBytes: p.deviceMemoryBytes ?? base.deviceMemoryBytes,
  };
}
