/**
 * Runs the per-file work (fileWork.ts) over a repository's files and hands back the outcomes in path order — in
 * worker threads when there are enough files to repay starting them, else in this thread. Secret scanning and
 * signing are CPU-bound and per file independent, so they spread over the cores; order is restored here, so the
 * harvest stays deterministic whatever the number of threads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FileWork, type FileOutcome, type FileWorkSettings } from './fileWork';
import { HarvestError } from './types';

/** Fewer files are processed in this thread: a worker costs ~100 ms to start and to load the secret rules. */
export const WORKER_MIN_FILES = 2000;
/** Upper bound on harvest threads, whatever the machine has. */
export const MAX_WORKERS = 8;
/** Files per message to a worker: large enough that messaging is noise, small enough to balance the threads. */
const BATCH_FILES = 64;
/** Batches handed out ahead of the one being consumed, per worker: keeps threads busy, bounds buffered texts. */
const BATCHES_AHEAD_PER_WORKER = 3;
/** Give the event loop a turn this often when working in this thread, so an LSP server stays responsive. */
const YIELD_EVERY_FILES = 200;
/** The worker's bundle (esbuild.mjs builds server/src/harvest/worker.ts there), beside or above this bundle. */
export const WORKER_FILE = 'harvestWorker.js';

/**
 * Threads for `files` files: `requested` when given (0 = this thread only), else one per core up to MAX_WORKERS
 * for large repositories.
 */
export function workerCount(requested: number | undefined, files: number): number {
  if (requested !== undefined) return Math.max(0, Math.floor(requested));
  return files < WORKER_MIN_FILES ? 0 : Math.min(MAX_WORKERS, os.availableParallelism());
}

export function findWorkerScript(): string | undefined {
  return [__dirname, path.dirname(__dirname)].map((dir) => path.join(dir, WORKER_FILE)).find((f) => fs.existsSync(f));
}

/**
 * The outcome of every path, in the order given, from `workers` threads (0: this thread). Stopping the iteration
 * stops the workers. `explicit`: the caller asked for threads, so a missing worker bundle is an error.
 */
export async function* processInOrder(
  paths: readonly string[],
  settings: FileWorkSettings,
  workers: number,
  explicit = false,
): AsyncGenerator<FileOutcome> {
  const script = workers > 0 ? findWorkerScript() : undefined;
  if (workers > 0 && !script && explicit) throw new HarvestError(`${WORKER_FILE} is missing beside ${__filename}: rebuild (node esbuild.mjs).`);
  if (!script) {
    // None wanted, or no worker bundle where threads were only a default (a tool run from sources): the same
    // work, in this thread.
    const work = new FileWork(settings);
    for (let i = 0; i < paths.length; i++) {
      if (i % YIELD_EVERY_FILES === YIELD_EVERY_FILES - 1) await new Promise<void>((r) => setImmediate(r));
      yield await work.process(paths[i]);
    }
    return;
  }
  yield* inWorkers(paths, settings, workers, script);
}

async function* inWorkers(paths: readonly string[], settings: FileWorkSettings, n: number, script: string): AsyncGenerator<FileOutcome> {
  const batches: string[][] = [];
  for (let i = 0; i < paths.length; i += BATCH_FILES) batches.push(paths.slice(i, i + BATCH_FILES));
  const done = new Map<number, FileOutcome[]>();
  const pending = new Array<number>(n).fill(0);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const pool = Array.from({ length: n }, (_, w) => {
    const worker = new Worker(script, { workerData: settings });
    worker.on('message', (m: { batch: number; outcomes: FileOutcome[] }) => {
      done.set(m.batch, m.outcomes);
      pending[w]--;
      notify();
    });
    worker.on('error', (e) => {
      failure ??= new HarvestError(`A harvest thread failed: ${e.message}`);
      notify();
    });
    worker.on('exit', (code) => {
      if (code !== 0) failure ??= new HarvestError(`A harvest thread stopped (exit code ${code}).`);
      notify();
    });
    return worker;
  });
  let sent = 0;
  try {
    for (let next = 0; next < batches.length; next++) {
      while (!done.has(next)) {
        while (sent < batches.length && sent < next + n * BATCHES_AHEAD_PER_WORKER) {
          const w = pending.indexOf(Math.min(...pending));
          pool[w].postMessage({ batch: sent, paths: batches[sent] });
          pending[w]++;
          sent++;
        }
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
        if (failure) throw failure;
      }
      const outcomes = done.get(next) ?? [];
      done.delete(next);
      yield* outcomes;
    }
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
