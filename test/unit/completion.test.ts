/** CompletionService end to end with the real demo model: completion, cache, cancellation, model swap (the storm: completionStorm.test.ts). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionService } from '../../server/src/completion/service';
import { ensureDemoModel } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

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
