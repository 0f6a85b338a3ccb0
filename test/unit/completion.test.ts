/** CompletionService end to end with the real demo model: completion, cache, cancellation, model swap (the storm: completionStorm.test.ts). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompletionService } from '../../server/src/completion/service';
import { OrtEngine } from '../../server/src/completion/engine/ortEngine';
import type { EngineLoader } from '../../server/src/completion/engine/engine';
import { ensureDemoModel, tempDir } from '../helpers/paths';
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

test('a model that does not fit beside the served one replaces it; one that never fits brings the old one back', async () => {
  // A device that holds one model: a load beside a live engine fails as a GPU's would, with out_of_memory (the
  // engines are the real ONNX ones; only the memory limit is simulated, as it cannot be reached here).
  let alive = 0;
  const loads: string[] = [];
  const neverFits = new Set<string>();
  const outOfMemory = () => Object.assign(new Error('Not enough memory to load the model (one fits)'), { kind: 'out_of_memory' });
  const loadEngine: EngineLoader = async (m) => {
    loads.push(path.basename(m.onnxDir));
    if (alive >= 1 || neverFits.has(m.onnxDir)) throw outOfMemory();
    const engine = await OrtEngine.load(m.onnxDir);
    alive++;
    return { generate: (ids, o) => engine.generate(ids, o), dispose: async () => { alive--; await engine.dispose(); } };
  };
  const dir = tempDir('swap-memory');
  const second = path.join(dir, 'second');
  fs.cpSync(onnxDir, second, { recursive: true });
  const tooLarge = path.join(dir, 'too-large');
  neverFits.add(tooLarge);
  const svc = await CompletionService.create({ modelDir: ensureDemoModel(), onnxDir, maxNewTokens: 8, loadEngine, adaptiveDebounce: false });
  try {
    const req = { text: DOC + DOC_SUFFIX, offset: DOC.length, languageId: 'python', path: 'memory.py' };
    const first = await svc.complete(req);
    assert.ok(first);
    await svc.swapModel(second);
    assert.deepEqual(loads, [path.basename(onnxDir), 'second', 'second'], 'tried beside, then alone');
    assert.equal(alive, 1);
    assert.deepEqual(await svc.complete(req), { text: first.text, fromCache: false }, 'the new model serves; the cache went');
    await assert.rejects(svc.swapModel(tooLarge), /Not enough memory/);
    assert.deepEqual(loads.slice(3), ['too-large', 'too-large', 'second'], 'the model that served came back');
    assert.equal(alive, 1);
    assert.ok(await svc.complete({ ...req, path: 'after.py' }), 'completions still work');
  } finally {
    await svc.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(alive, 0);
});
