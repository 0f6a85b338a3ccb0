/**
 * What every `repotune` command gets from the dispatcher (server/src/cli.ts): the parsed flags, where models and
 * runs are stored, a way to start the Python worker; and the terminal plumbing the long commands share (progress
 * lines on stderr, Ctrl-C as a cancel that keeps the last good adapter).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainerProcess } from '../training/trainerProcess';
import { resolvePython } from '../training/python';
import type { ProgressParams } from '../protocol';
import { positiveInt, type CliFlags } from './flags';

/** Where the CLI keeps models, runs and adapters unless told otherwise. */
export const DEFAULT_STORAGE = process.env.REPOTUNE_HOME ?? path.join(os.homedir(), '.cache', 'repotune');

export interface CliContext {
  readonly values: CliFlags;
  /** The positional after the command: a repository or a file, depending on the command. */
  readonly target: string | undefined;
  readonly storageDir: string;
  /** --steps, checked for every command (as before the split), used by fine-tune and demo. */
  readonly steps: number | undefined;
  /** The folder above the bundle: the package root, with server/trainer in it. */
  readonly sourceRoot: string;
  readonly trainerDir: string;
  /** The Python the worker runs with (--python, else the storage's venv, else the system's), resolved per call. */
  readonly python: () => string;
  /** A fresh Python worker; the command disposes of it (in finally). */
  readonly makeTrainer: () => TrainerProcess;
}

export function createCliContext(values: CliFlags, target: string | undefined, sourceRoot: string): CliContext {
  const storageDir = path.resolve(values.storage ?? DEFAULT_STORAGE);
  const steps = values.steps !== undefined ? positiveInt(values.steps, '--steps') : undefined;
  const trainerDir = path.join(sourceRoot, 'server', 'trainer');
  const python = () => resolvePython({ configured: values.python, storageDir, sourceRoot });
  const makeTrainer = () =>
    new TrainerProcess({
      python: python(),
      trainerDir,
      log: (level, message) => {
        if (level === 'error' || level === 'warning' || process.env.REPOTUNE_DEBUG) console.error(message);
      },
    });
  return { values, target, storageDir, steps, sourceRoot, trainerDir, python, makeTrainer };
}

let lastPrinted = '';
export function printProgress(p: ProgressParams): void {
  const pct = p.percent !== undefined ? `${Math.round(p.percent).toString().padStart(3)}%` : '    ';
  const extra = p.stage === 'train' && p.tokensPerSecond ? ` · ${Math.round(p.tokensPerSecond)} tok/s · ETA ${Math.round(p.etaSeconds ?? 0)} s` : '';
  const line = `[${pct}] ${p.stage}: ${p.message}${extra}`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (p.stage !== 'train' || line.split('·')[0] !== lastPrinted.split('·')[0]) {
    // Without a terminal, print a training line only every 10 steps so logs stay readable.
    if (p.stage !== 'train' || (p.step ?? 0) % 10 === 0 || p.step === p.totalSteps) console.error(line);
  }
  lastPrinted = line;
}

export function abortOnSigint(): AbortSignal {
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ncancelling… (the last good adapter is kept)');
    abort.abort();
  });
  return abort.signal;
}
