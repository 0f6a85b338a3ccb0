/**
 * Entry of a harvest worker thread (bundled by esbuild.mjs as harvestWorker.js): processes batches of paths with
 * the settings it was started with and answers each batch with its outcomes, in the batch's order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FileWork, type FileOutcome, type FileWorkSettings } from './fileWork';

const port = parentPort;
if (port) {
  const work = new FileWork(workerData as FileWorkSettings);
  port.on('message', async (m: { batch: number; paths: readonly string[] }) => {
    const outcomes: FileOutcome[] = [];
    for (const rel of m.paths) outcomes.push(await work.process(rel));
    // The texts' buffers move to the main thread instead of being copied (each is its own, see read.ts).
    const buffers = outcomes.flatMap((o) => ('content' in o && o.content instanceof Uint8Array ? [o.content.buffer as ArrayBuffer] : []));
    port.postMessage({ batch: m.batch, outcomes }, buffers);
  });
}
