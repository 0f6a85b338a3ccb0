/**
 * The worker thread of OrtThreadEngine (ortThread.ts), bundled as dist/ortWorker.js: it loads the ONNX export with
 * OrtEngine and runs each `generate` here, so the sidecar's event loop stays free while onnxruntime runs.
 *
 * Cancellation and the per-token filter verdict travel through a shared Int32Array (ortThreadControl.ts), read
 * between model runs without a turn of this thread's event loop: a message would only arrive after the next run
 * had started.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OnnxModelError } from './onnxMetadata';
import { OrtEngine } from './ortEngine';
import { CANCEL, VERDICT, VERDICT_WAIT_MS, Verdict, type ToMain, type ToWorker, type WorkerSetup } from './ortThreadControl';

const { onnxDir, opts, control: shared } = workerData as WorkerSetup;
const control = new Int32Array(shared);
const port = parentPort!;
const send = (m: ToMain) => port.postMessage(m);
const asError = (err: unknown) => ({ name: (err as Error)?.name ?? 'Error', message: (err as Error)?.message ?? String(err), onnxModel: err instanceof OnnxModelError });

/** Read by OrtEngine before the prefill and between runs. */
const cancelFlag = {
  get aborted(): boolean {
    return Atomics.load(control, CANCEL) !== 0;
  },
};

/** Hands a token to the main thread's filters and waits for their answer; false = stop. */
function askFilters(id: number): boolean {
  Atomics.store(control, VERDICT, Verdict.Pending);
  send({ type: 'token', id });
  // The main thread answers every token message, as soon as its event loop takes it.
  if (Atomics.wait(control, VERDICT, Verdict.Pending, VERDICT_WAIT_MS) === 'timed-out') {
    // No answer: the request is given up as cancelled (OrtEngine checks the flag next), not cut by a filter.
    Atomics.store(control, CANCEL, 1);
    return true;
  }
  return Atomics.load(control, VERDICT) === Verdict.GoOn;
}

async function main(): Promise<void> {
  let engine: OrtEngine;
  try {
    engine = await OrtEngine.load(onnxDir, opts);
  } catch (err) {
    send({ type: 'error', error: asError(err) });
    return;
  }
  send({ type: 'loaded' });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'dispose') {
      void engine.dispose().finally(() => {
        send({ type: 'disposed' });
        port.close();
      });
      return;
    }
    const work =
      m.type === 'score'
        ? engine.negLogLikelihood(m.ids, cancelFlag)
        : engine.generate(m.promptIds, {
            maxNewTokens: m.maxNewTokens,
            stopIds: m.stopIds,
            signal: cancelFlag,
            onToken: m.withFilters ? (id) => askFilters(id) : undefined,
          });
    work.then(
      (result) => send({ type: 'done', result }),
      (err: unknown) => send({ type: 'error', error: asError(err) }),
    );
  });
}

void main();
