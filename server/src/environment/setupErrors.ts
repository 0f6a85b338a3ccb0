/**
 * Why creating the trainer environment failed, in words a user can act on. The cause is read from the last lines
 * of venv's or pip's output (pip has no machine-readable error codes); anything unrecognised keeps pip's own last
 * line, and the full output is in the log.
 */
import { DISK_FULL_TEXT } from '../diskFull';
import type { RunResult } from './runLogged';

export type EnvSetupErrorKind = 'python_missing' | 'venv_unavailable' | 'network' | 'disk_full' | 'pip_failed' | 'cancelled' | 'internal';

export class EnvSetupError extends Error {
  constructor(readonly kind: EnvSetupErrorKind, message: string) {
    super(message);
  }
}

const VENV_MISSING = /ensurepip is not available|No module named (venv|ensurepip)|python3(\.\d+)?-venv/i;
const NETWORK =
  /NewConnectionError|Temporary failure in name resolution|Name or service not known|Network is unreachable|ConnectTimeout|Connection refused|ProxyError|SSLError|Could not fetch URL|Read timed out|Max retries exceeded/i;
const NOT_FOUND = /No matching distribution found for (\S+)|Could not find a version that satisfies the requirement (\S+)/i;

export function describeFailure(r: RunResult, stage: 'venv' | 'pip', venvDir: string): EnvSetupError {
  if (r.cancelled) return new EnvSetupError('cancelled', 'Creating the trainer environment was cancelled; nothing half-made is kept.');
  const text = r.tail.join('\n');
  const last = r.tail.filter((l) => l.trim()).at(-1)?.trim() ?? `exit code ${r.code ?? r.signal}`;
  if (r.spawnError) return new EnvSetupError('python_missing', `Could not start Python (${r.spawnError.message}).`);
  if (DISK_FULL_TEXT.test(text)) {
    return new EnvSetupError('disk_full', `The disk is full (${last}). Free space where ${venvDir} lives (torch needs several GB), then run "RepoTune: Create trainer environment" again.`);
  }
  if (stage === 'venv' && VENV_MISSING.test(text)) {
    return new EnvSetupError(
      'venv_unavailable',
      "Python's venv module is missing. Install it (Debian/Ubuntu: `sudo apt install python3-venv`), then run \"RepoTune: Create trainer environment\" again.",
    );
  }
  if (stage === 'venv') return new EnvSetupError('venv_unavailable', `Creating the virtual environment failed: ${last}`);
  if (NETWORK.test(text)) {
    return new EnvSetupError(
      'network',
      'pip cannot reach the package index (no network, or a proxy in the way). Check the connection; pip honours PIP_INDEX_URL, ' +
        'HTTPS_PROXY and pip.conf for a mirror. Then run "RepoTune: Create trainer environment" again.',
    );
  }
  const missing = NOT_FOUND.exec(text);
  if (missing) {
    return new EnvSetupError(
      'pip_failed',
      `pip found no installable ${missing[1] ?? missing[2]} for this Python (${last}). Offline? Point pip at a mirror (PIP_INDEX_URL), or use a Python version torch supports.`,
    );
  }
  return new EnvSetupError('pip_failed', `pip install failed: ${last}`);
}
