/** CompletionService end to end with the real demo model: completion, cache, cancellation storm, model swap. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompletionService } from '../../server/src/completion/service';
import { ensureDemoModel } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

/** Faster than any typist (~15 chars/s), so every request lands while the previous one still runs. */
const KEYSTROKE_INTERVAL_MS = 25;
const STORM_REQUESTS = 200;
/** Heap growth allowed over a storm: a leak of one prompt's KV cache or promise per request would exceed it. */
const STORM_HEAP_BOUND_BYTES = 16 * 1024 * 1024;
/** A superseded request must return within one token (plus one prefill) of the next keystroke, not finish its run. */
const SUPERSEDED_RETURN_BOUND_MS = 500;

const DOC = 'import os\n\n\ndef read_config(path):\n    with open(path) as f:\n        data = f.read()\n    return data\n\n\ndef main():\n    ';
const DOC_SUFFIX = '\n\n\nif __name__ == "__main__":\n    main()\n';

let service: CompletionService;
let onnxDir: string;

before(async () => {
  onnxDir = ensureDemoOnnx();
  service = await CompletionService.create({ modelDir: ensureDemoModel(), onnxDir, maxNewTokens: 24 });
});

after(async () => {
  await service?.dispose();
});

test('complete returns a string for a document, then serves it from the cache', async (t) => {
  const req = { text: DOC + DOC_SUFFIX, offset: DOC.length, languageId: 'python', path: 'app.py' };
  const first = await service.complete(req);
  assert.ok(first, `a completion (stats: ${JSON.stringify(service.lastStats)})`);
  assert.equal(typeof first.text, 'string');
  assert.ok(first.text.length > 0);
  assert.equal(first.fromCache, false);
  t.diagnostic(`completion ${JSON.stringify(first.text)}; stats ${JSON.stringify(service.lastStats)}`);
  const second = await service.complete(req);
  assert.deepEqual(second, { text: first.text, fromCache: true });
  // Typing the completion's first character is served from the cache too.
  const typed = first.text[0];
  const third = await service.complete({ ...req, text: DOC + typed + DOC_SUFFIX, offset: DOC.length + 1 });
  if (first.text.length > 1) assert.deepEqual(third, { text: first.text.slice(1), fromCache: true });
});

test('prefiltered requests return undefined with a reason; settings apply at once', async () => {
  assert.equal(await service.complete({ text: 'foobar', offset: 3, languageId: 'python' }), undefined);
  assert.equal(service.lastSkipReason, 'mid-word');
  service.updateSettings({ enabled: false });
  try {
    assert.equal(await service.complete({ text: DOC + DOC_SUFFIX, offset: DOC.length, languageId: 'python', path: 'app.py' }), undefined);
    assert.equal(service.lastSkipReason, 'completions-disabled');
  } finally {
    service.updateSettings({ enabled: true });
  }
});

test('a caller AbortSignal cancels the request', async () => {
  const controller = new AbortController();
  controller.abort();
  assert.equal(await service.complete({ text: 'x = ', offset: 4, languageId: 'python' }, controller.signal), undefined);
});

function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test(`a storm of ${STORM_REQUESTS} keystroke requests cancels down to the last one and leaks nothing`, async (t) => {
  const body = 'def total(items):\n    result = 0\n    for item in items:\n        result += item.price * item.count\n    return result\n';
  const typing = body.repeat(Math.ceil(STORM_REQUESTS / body.length) + 1).slice(0, STORM_REQUESTS);
  const heapBefore = heapAfterGc();
  const requests: Promise<unknown>[] = [];
  const startedAt: number[] = [];
  const returnedAt: number[] = [];
  for (let i = 0; i < STORM_REQUESTS; i++) {
    const text = DOC + typing.slice(0, i + 1);
    startedAt.push(performance.now());
    const request = service.complete({ text: text + DOC_SUFFIX, offset: text.length, languageId: 'python', path: 'storm.py' });
    requests.push(request.finally(() => (returnedAt[i] = performance.now())));
    await sleep(KEYSTROKE_INTERVAL_MS);
  }
  const results = await Promise.all(requests);
  // How long each request outlived the keystroke that superseded it.
  const overrun = Math.max(0, ...returnedAt.slice(0, -1).map((t, i) => t - startedAt[i + 1]));
  assert.equal(service.pendingRequests, 0, 'no request left waiting or generating');
  const served = results.filter((r) => r !== undefined).length;
  assert.ok(served < STORM_REQUESTS, 'superseded requests were cancelled');
  assert.notEqual(service.lastStats?.stoppedBy, 'cancelled', 'the last request ran to its end');
  assert.ok((service.lastStats?.reusedTokens ?? 0) > 0, 'the prompt reused the KV cache of the previous keystroke');
  const growth = heapAfterGc() - heapBefore;
  t.diagnostic(`served ${served}/${STORM_REQUESTS}; worst overrun after supersede ${overrun.toFixed(1)} ms; heap growth ${growth} bytes`);
  assert.ok(overrun < SUPERSEDED_RETURN_BOUND_MS, `a superseded request returned ${overrun.toFixed(0)} ms after the next keystroke`);
  assert.ok(growth < STORM_HEAP_BOUND_BYTES, `heap grew by ${growth} bytes`);
  // The service still works after the storm.
  assert.ok(await service.complete({ text: DOC + DOC_SUFFIX, offset: DOC.length, languageId: 'python', path: 'app.py' }));
});

test('swapModel serves the new export and drops cached completions', async () => {
  const req = { text: DOC + DOC_SUFFIX, offset: DOC.length, languageId: 'python', path: 'swap.py' };
  const before = await service.complete(req);
  await service.swapModel(onnxDir);
  const after = await service.complete(req);
  assert.equal(after?.fromCache, false);
  assert.equal(after?.text, before?.text, 'same weights, same greedy completion');
  await assert.rejects(service.swapModel('/nonexistent/onnx'), /repotune-onnx\.json/);
  assert.ok(await service.complete({ ...req, path: 'other.py' }), 'a failed swap keeps the old model');
});
