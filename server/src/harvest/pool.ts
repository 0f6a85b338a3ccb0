/**
 * Runs the per-file work (fileWork.ts) over a repository's files and hands back the outcomes in path order — on
 * several threads when there are enough files to repay starting them (the native scan's libuv threads, and worker
 * threads for what JavaScript decides), else in this thread. Secret scanning and signing are CPU-bound and per file
 * independent, so they spread over the cores; order is restored here, so the harvest stays deterministic whatever
 * the number of threads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileWork, type FileOutcome, type FileWorkSettings } from './fileWork';
import { EXCLUDED_STATUS, exclusionReasons, nativeRefusesLinkedFolders, nativeScanner, type NativeScanner, type PackWriter, type ScannedBatch } from './native';
import { SIGNATURE_BINS } from './neardup';
import { FileReader } from './read';
import { secretlintChecksPath } from './secretlint';
import { HarvestError, type ExclusionReason } from './types';
import { HarvestWorkers } from './workerPool';

/** Fewer files are processed in this thread: a worker costs ~100 ms to start and to load the secret rules. */
export const WORKER_MIN_FILES = 2000;
/**
 * The same with the native scan, whose batches start no worker: measured on 1,532 files (sympy, 29 MB) 370 ms in
 * one thread against 260 ms threaded, and even at 250 files.
 */
export const NATIVE_THREADS_MIN_FILES = 500;
/** Upper bound on harvest threads, whatever the machine has. */
export const MAX_WORKERS = 8;
/** Files per message to a worker: large enough that messaging is noise, small enough to balance the threads. */
const BATCH_FILES = 64;
/** Batches handed out ahead of the one being consumed, per worker: keeps threads busy, bounds buffered texts. */
const BATCHES_AHEAD_PER_WORKER = 3;
/** Give the event loop a turn this often when working in this thread, so an LSP server stays responsive. */
const YIELD_EVERY_FILES = 200;
/** Files JavaScript decides in this thread, when the native scan runs, before worker threads are started. */
const JS_FILES_BEFORE_WORKERS = 128;
/** The worker's bundle (esbuild.mjs builds server/src/harvest/worker.ts there), beside or above this bundle. */
export const WORKER_FILE = 'harvestWorker.js';

/**
 * Threads for `files` files: `requested` when given (0 = this thread only), else one per core up to MAX_WORKERS
 * for large repositories (smaller ones when the native scan runs).
 */
export function workerCount(requested: number | undefined, files: number, settings?: Pick<FileWorkSettings, 'native'>): number {
  if (requested !== undefined) return Math.max(0, Math.floor(requested));
  const native = scannerFor(settings) !== undefined;
  return files < (native ? NATIVE_THREADS_MIN_FILES : WORKER_MIN_FILES) ? 0 : Math.min(MAX_WORKERS, os.availableParallelism());
}

/** The native scanner, unless the settings turn it off or it is not built. */
function scannerFor(settings: Pick<FileWorkSettings, 'native'> | undefined): NativeScanner | undefined {
  return settings?.native === false ? undefined : nativeScanner();
}

/**
 * Sizes libuv's thread pool, where the native scan's batches run (4 threads by default), to the harvest's thread
 * count. Only a process's entry point calls this, before anything has used the pool: libuv reads the setting once.
 */
export function sizeThreadPoolForHarvest(): void {
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, Math.min(MAX_WORKERS, os.availableParallelism())));
}

export function findWorkerScript(): string | undefined {
  return [__dirname, path.dirname(__dirname)].map((dir) => path.join(dir, WORKER_FILE)).find((f) => fs.existsSync(f));
}

/**
 * The outcome of every path, in the order given, from `workers` threads (0: this thread). Stopping the iteration
 * stops the workers. `explicit`: the caller asked for threads, so a missing worker bundle is an error. `pack`: the
 * corpus pack, where the native scan appends the texts it settles (else their bytes come back).
 */
export async function* processInOrder(
  paths: readonly string[],
  settings: FileWorkSettings,
  workers: number,
  explicit = false,
  pack?: PackWriter,
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
  yield* inThreads(paths, settings, workers, script, scannerFor(settings), pack);
}

/**
 * Batches of files, several in flight, outcomes in path order. With the native scanner, each batch is first read
 * and scanned on libuv threads (UV_THREADPOOL_SIZE, 4 by default), and only the files it leaves to JavaScript (a
 * possible secret, an unusual encoding, a link…) go to JavaScript: in this thread at first, then in worker
 * threads. Without it, every file goes to the worker threads.
 */
async function* inThreads(
  paths: readonly string[],
  settings: FileWorkSettings,
  threads: number,
  script: string,
  scanner: NativeScanner | undefined,
  pack: PackWriter | undefined,
): AsyncGenerator<FileOutcome> {
  const reader = new FileReader(settings.root, settings.maxBytes);
  const reasons = exclusionReasons();
  // Files under a linked folder are read.ts's to judge: the native scan refuses them itself where it can.
  const checkFolders = !nativeRefusesLinkedFolders();
  // JavaScript decides these files: the native scan already declined them.
  const jsSettings: FileWorkSettings = { ...settings, plainScan: false };
  let workers: HarvestWorkers | undefined;
  let here: FileWork | undefined;
  let decidedHere = 0;
  const inJs = async (batch: readonly string[]): Promise<FileOutcome[]> => {
    // A worker thread costs ~100 ms of CPU to start (an isolate, the bundle, the secret rules): the first files
    // JavaScript decides stay in this thread, and repositories where few need it never start one.
    if (!scanner || decidedHere >= JS_FILES_BEFORE_WORKERS) return (workers ??= new HarvestWorkers(script, jsSettings, threads)).run(batch);
    decidedHere += batch.length;
    here ??= new FileWork(jsSettings);
    const out: FileOutcome[] = [];
    for (const p of batch) out.push(await here.process(p));
    return out;
  };
  const runBatch = async (batch: readonly string[]): Promise<FileOutcome[]> => {
    if (!scanner) return inJs(batch);
    // Not a file secretlint judges by its name, nor (unless the scan refuses those itself) under a linked folder.
    const nativeAt = batch.flatMap((p, i) => (!secretlintChecksPath(p) && (!checkFolders || reader.linkedFolder(p) === null) ? [i] : []));
    const scanned = await scanner.scanFiles(settings.root, nativeAt.map((i) => batch[i]), settings.maxBytes, pack);
    const outcomes: (FileOutcome | undefined)[] = new Array(batch.length);
    // One Buffer over the batch's hashes, rather than one per file, to write each as hex.
    const hashes = Buffer.from(scanned.sha256.buffer, scanned.sha256.byteOffset, scanned.sha256.byteLength);
    nativeAt.forEach((at, i) => {
      if (scanned.status[i] !== 0) outcomes[at] = settledOutcome(batch[at], scanned, hashes, i, reasons);
    });
    const restAt = batch.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
    if (restAt.length > 0) {
      const decided = await inJs(restAt.map((i) => batch[i]));
      restAt.forEach((at, i) => (outcomes[at] = decided[i]));
    }
    return outcomes as FileOutcome[];
  };
  const batches: string[][] = [];
  for (let i = 0; i < paths.length; i += BATCH_FILES) batches.push(paths.slice(i, i + BATCH_FILES));
  const inFlight: Promise<FileOutcome[]>[] = [];
  let started = 0;
  try {
    for (let next = 0; next < batches.length; next++) {
      while (started < batches.length && started < next + threads * BATCHES_AHEAD_PER_WORKER) {
        const run = runBatch(batches[started++]);
        run.catch(() => undefined); // awaited below; a batch still running when the harvest stops must not go unhandled
        inFlight.push(run);
      }
      yield* await (inFlight.shift() as Promise<FileOutcome[]>);
    }
  } finally {
    await workers?.close();
  }
}

/** The secret counts of a file without secrets: one shared object, not one per file. */
const NO_SECRETS: Readonly<Record<string, number>> = Object.freeze({});

/** The outcome of a file the native scan settled: entry `i` of its batch (`hashes`: the batch's sha256 bytes). */
function settledOutcome(path: string, batch: ScannedBatch, hashes: Buffer, i: number, reasons: readonly ExclusionReason[]): FileOutcome {
  const length = batch.lengths[i];
  const status = batch.status[i];
  if (status >= EXCLUDED_STATUS) return { path, diskBytes: length, secretCounts: NO_SECRETS, reason: reasons[status - EXCLUDED_STATUS] };
  const signed = status === 2;
  return {
    path,
    diskBytes: length,
    secretCounts: NO_SECRETS,
    content: batch.contents?.[i] ?? { offset: batch.offsets[i], length },
    sha256: hashes.toString('hex', i * 32, (i + 1) * 32),
    // A view into the batch's array: the near-duplicate index keeps every signature anyway.
    signature: signed ? batch.signatures.subarray(i * SIGNATURE_BINS, (i + 1) * SIGNATURE_BINS) : undefined,
  };
}
