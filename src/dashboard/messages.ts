/**
 * Messages between the dashboard webview (media/dashboard.js) and the extension (panel.ts). Both directions are
 * closed unions: the panel ignores anything else the webview posts, and media/dashboard.js switches on `type`.
 */
import type { ListRunsResult } from '../../server/src/protocol';
import type { EvaluationView } from './evaluationView';
import type { TrainingSnapshot } from './trainingHistory';
import type { acceptanceView } from '../acceptanceTracker';

export type ToDashboard =
  | { type: 'training'; training: TrainingSnapshot }
  | { type: 'runs'; runs: ListRunsResult | null; error?: string }
  | { type: 'evaluation'; evaluation: EvaluationView | null; runId?: string }
  | { type: 'acceptance'; acceptance: ReturnType<typeof acceptanceView> };

export type DashboardCommand = 'manageAdapters' | 'showLogs' | 'fineTune' | 'toggleCompletions';

export type FromDashboard =
  | { type: 'ready' }
  | { type: 'refresh' }
  | { type: 'command'; command: DashboardCommand };

const COMMANDS: readonly DashboardCommand[] = ['manageAdapters', 'showLogs', 'fineTune', 'toggleCompletions'];

/** Narrows whatever the webview posted to a known message, or undefined. */
export function parseFromDashboard(message: unknown): FromDashboard | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { type?: unknown; command?: unknown };
  if (m.type === 'ready' || m.type === 'refresh') return { type: m.type };
  if (m.type === 'command' && COMMANDS.includes(m.command as DashboardCommand)) return { type: 'command', command: m.command as DashboardCommand };
  return undefined;
}
