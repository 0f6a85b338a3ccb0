/**
 * Harvest worker threads (dist/harvestWorker.js, worker.ts) as a pool of promises: `run(paths)` resolves with the
 * files' outcomes in the order given, from the least busy thread. A thread that fails fails every pending run.
 */
import { Worker } from 'node:worker_threads';
import type { FileOutcome, FileWorkSettings } from './fileWork';
import { HarvestError } from './types';

interface Pending {
  resolve(outcomes: FileOutcome[]): void;
  reject(error: Error): void;
  worker: number;
}

export class HarvestWorkers {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[];
  private nextId = 0;
  private failure: Error | undefined;
  private closing = false;

  constructor(script: string, settings: FileWorkSettings, threads: number) {
    this.load = new Array<number>(threads).fill(0);
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(script, { workerData: settings });
      worker.on('message', (m: { batch: number; outcomes: FileOutcome[] }) => {
        const p = this.pending.get(m.batch);
        if (!p) return;
        this.pending.delete(m.batch);
        this.load[p.worker]--;
        p.resolve(m.outcomes);
      });
      worker.on('error', (e) => this.fail(new HarvestError(`A harvest thread failed: ${e.message}`)));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new HarvestError(`A harvest thread stopped (exit code ${code}).`));
      });
      return worker;
    });
  }

  run(paths: readonly string[]): Promise<FileOutcome[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const worker = this.load.indexOf(Math.min(...this.load));
    this.load[worker]++;
    return new Promise<FileOutcome[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      this.workers[worker].postMessage({ batch: id, paths });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.fail(new HarvestError('The harvest threads were stopped.'));
  }

  private fail(error: Error): void {
    if (this.closing && this.failure) return;
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
