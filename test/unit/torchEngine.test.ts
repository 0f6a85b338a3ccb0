/**
 * TorchEngine (the Python serving worker, CPU torch here) against OrtEngine on the same fp32 weights of the real
 * demo model: the same greedy ids, with and without an adapter; prefix KV reuse; cancel and filter stops that
 * leave the worker serving; a clear error for a forced "cuda" on this CPU machine; the service serving through it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OrtEngine } from '../../server/src/completion/engine/ortEngine';
import { TorchEngine, type TorchEngineOptions } from '../../server/src/completion/engine/torchEngine';
import { COMPLETION_BACKENDS, engineLoader, parseBackend, resolveBackend } from '../../server/src/completion/engine/backend';
import { CompletionService } from '../../server/src/completion/service';
import { TrainerError } from '../../server/src/training/trainerProcess';
import type { CodeTokenizer } from '../../server/src/models/tokenizer';
import { COMPLETION_BACKENDS as SETTING_BACKENDS } from '../../src/settingsSchema';
import { pythonPath, TRAINER_DIR } from '../helpers/paths';
import { coldGenerate, DEMO_PREFIX, DEMO_SUFFIX, demoFim, generateAbortingAfter } from '../helpers/onnxModel';
import { ensureRandomAdapter } from '../helpers/randomAdapter';

const NEW_TOKENS = 24;
/** Far more than the cancel lets through: a worker that ignored the cancel would run into it. */
const LONG_RUN_TOKENS = 3000;
/** The worker may finish a few more steps while the cancel crosses the pipe; it must not run on. */
const MAX_TOKENS_AFTER_CANCEL = 300;
const POLL_MS = 50;
const PREFIX = DEMO_PREFIX;
const SUFFIX = DEMO_SUFFIX;

let modelDir: string;
let onnxDir: string;
let tok: CodeTokenizer;
let prompt: number[];
let stopIds: Set<number>;
let fim: (prefix?: string) => number[];
let ort: OrtEngine;
let torch: TorchEngine;
const logs: string[] = [];

function workerOptions(extra: Partial<TorchEngineOptions> = {}): TorchEngineOptions {
  // One torch thread: the test box has 2 cores shared with other test files.
  return { python: pythonPath(), trainerDir: TRAINER_DIR, log: (_l, m) => logs.push(m), modelDir, device: 'cpu', numThreads: 1, ...extra };
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Polls until the process is gone (signal 0 fails), so the supervisor has seen its exit. */
async function waitUntilGone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      await new Promise((r) => setTimeout(r, POLL_MS)); // the exit event comes after the process is reaped
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

before(async () => {
  ({ modelDir, onnxDir, tok, prompt, stopIds, fim } = demoFim());
  ort = await OrtEngine.load(onnxDir);
  torch = await TorchEngine.load(workerOptions());
});

after(async () => {
  await ort?.dispose();
  await torch?.dispose();
});

test('greedy ids equal OrtEngine greedy ids for the same prompts and fp32 weights', async () => {
  assert.deepEqual({ device: torch.info.device, dtype: torch.info.dtype }, { device: 'cpu', dtype: 'float32' });
  for (const p of [prompt, tok.encode('function add(a, b) {\n  return')]) {
    ort.resetCache();
    const expected = await ort.generate(p, { maxNewTokens: NEW_TOKENS, stopIds: [] });
    const got = await torch.generate(p, { maxNewTokens: NEW_TOKENS, stopIds: [] });
    assert.deepEqual(got.ids, expected.ids);
    assert.equal(got.stoppedBy, 'length');
    const withStops = await torch.generate(p, { maxNewTokens: NEW_TOKENS, stopIds });
    ort.resetCache();
    assert.deepEqual(withStops.ids, (await ort.generate(p, { maxNewTokens: NEW_TOKENS, stopIds })).ids);
  }
});

test('a prompt sharing its start with the last one prefills only the new tail, with the ids of a cold run', async () => {
  const first = fim(PREFIX);
  const typed = fim(`${PREFIX}li`); // one more keystroke at the end of the prefix
  const r1 = await torch.generate(first, { maxNewTokens: 8, stopIds: [] });
  const shared = commonPrefix([...first, ...r1.ids.slice(0, -1)], typed);
  assert.ok(shared > 0 && shared < typed.length);
  const r2 = await torch.generate(typed, { maxNewTokens: NEW_TOKENS, stopIds });
  assert.equal(r2.reusedTokens, shared);
  assert.equal(r2.prefilledTokens, typed.length - shared);
  assert.deepEqual(r2.ids, (await coldGenerate(onnxDir, typed, { maxNewTokens: NEW_TOKENS, stopIds })).ids);
});

test('an abort mid-generation returns cancelled and the worker stops and keeps serving', async () => {
  const r = await generateAbortingAfter(torch, prompt, 3, LONG_RUN_TOKENS);
  assert.equal(r.stoppedBy, 'cancelled');
  assert.equal(r.ids.length, 3);
  assert.ok(torch.lastWorkerTokens < MAX_TOKENS_AFTER_CANCEL, `worker generated ${torch.lastWorkerTokens} tokens`);
  ort.resetCache();
  const expected = await ort.generate(prompt, { maxNewTokens: 6, stopIds: [] });
  assert.deepEqual((await torch.generate(prompt, { maxNewTokens: 6, stopIds: [] })).ids, expected.ids);
  // Already aborted: no model work at all.
  assert.equal((await torch.generate(prompt, { maxNewTokens: 6, stopIds: [], signal: AbortSignal.abort() })).stoppedBy, 'cancelled');
});

test('a stream filter stop returns the tokens seen so far as "filter"', async () => {
  const r = await torch.generate(prompt, { maxNewTokens: LONG_RUN_TOKENS, stopIds: [], onToken: (_id, ids) => ids.length < 2 });
  assert.deepEqual([r.stoppedBy, r.ids.length], ['filter', 2]);
  assert.ok(torch.lastWorkerTokens < MAX_TOKENS_AFTER_CANCEL);
});

test('a worker that died is started again and reloads its model before the next run', async () => {
  ort.resetCache();
  const expected = await ort.generate(prompt, { maxNewTokens: 6, stopIds: [] });
  const pid = torch.workerPid!;
  process.kill(pid, 'SIGKILL');
  await waitUntilGone(pid);
  const r = await torch.generate(prompt, { maxNewTokens: 6, stopIds: [] });
  assert.deepEqual([r.ids, r.reusedTokens], [expected.ids, 0]);
  assert.notEqual(torch.workerPid, pid);
});

test('a forced "cuda" on a machine without one fails with a clear error', async () => {
  await assert.rejects(TorchEngine.load(workerOptions({ device: 'cuda' })), (err: unknown) => {
    assert.ok(err instanceof TrainerError);
    assert.equal(err.kind, 'missing_dependency');
    assert.match(err.message, /'cuda' was requested but torch sees no usable GPU/);
    return true;
  });
});

test('an adapter is merged: the same ids as the ONNX export of base + adapter, not those of the base', async () => {
  const adapter = ensureRandomAdapter();
  const ortAdapted = await OrtEngine.load(adapter.onnxDir);
  const torchAdapted = await TorchEngine.load(workerOptions({ adapterDir: adapter.adapterDir }));
  try {
    const expected = await ortAdapted.generate(prompt, { maxNewTokens: NEW_TOKENS, stopIds: [] });
    assert.deepEqual((await torchAdapted.generate(prompt, { maxNewTokens: NEW_TOKENS, stopIds: [] })).ids, expected.ids);
    ort.resetCache();
    assert.notDeepEqual((await ort.generate(prompt, { maxNewTokens: NEW_TOKENS, stopIds: [] })).ids, expected.ids);
  } finally {
    await ortAdapted.dispose();
    await torchAdapted.dispose();
  }
});

test('the completion service serves through the torch backend and swaps to a trained adapter', async () => {
  const adapter = ensureRandomAdapter();
  const opts = { python: pythonPath(), trainerDir: TRAINER_DIR, log: (_l: string, m: string) => logs.push(m) };
  const viaTorch = await CompletionService.create({ modelDir, onnxDir, adaptiveDebounce: false, loadEngine: engineLoader({ backend: 'torch', fallbackToOnnx: false, ...opts }) });
  const viaOnnx = await CompletionService.create({ modelDir, onnxDir, adaptiveDebounce: false });
  const req = { text: `${PREFIX}\n${SUFFIX}`, offset: PREFIX.length, languageId: 'python', path: 'a.py' };
  try {
    for (const swap of [false, true]) {
      if (swap) {
        await viaTorch.swapModel(adapter.onnxDir, adapter.adapterDir);
        await viaOnnx.swapModel(adapter.onnxDir, adapter.adapterDir);
      }
      const a = await viaTorch.complete(req);
      const b = await viaOnnx.complete(req);
      assert.deepEqual(a, b, swap ? 'after the adapter swap' : 'base model');
      assert.equal(viaTorch.lastStats?.generatedTokens, viaOnnx.lastStats?.generatedTokens);
      assert.ok((viaTorch.lastStats?.generatedTokens ?? 0) > 0, 'the model ran');
    }
  } finally {
    await viaTorch.dispose();
    await viaOnnx.dispose();
  }
});

test('backend choice: explicit settings win; auto is onnx without an NVIDIA driver or without CUDA in torch', async () => {
  assert.deepEqual([...COMPLETION_BACKENDS], [...SETTING_BACKENDS]);
  assert.equal(parseBackend('torch'), 'torch');
  assert.equal(parseBackend('gpu'), 'auto');
  const noCall = { request: () => Promise.reject(new Error('must not ask Python')) };
  assert.equal((await resolveBackend('torch', { trainer: noCall, pythonPath: 'p' })).backend, 'torch');
  assert.equal((await resolveBackend('auto', { trainer: noCall, pythonPath: 'p', nvidiaDriver: false })).backend, 'onnx');
  const env = (cuda: boolean) => ({ request: async <T>() => ({ python: '3.11', torch: '2', cuda, device_name: cuda ? 'H100' : null, device_mem_total: null, device_mem_free: null, problems: [] }) as T });
  assert.equal((await resolveBackend('auto', { trainer: env(true), pythonPath: 'p', nvidiaDriver: true })).backend, 'torch');
  assert.equal((await resolveBackend('auto', { trainer: env(false), pythonPath: 'p', nvidiaDriver: true })).backend, 'onnx');
  assert.equal((await resolveBackend('auto', { trainer: noCall, pythonPath: 'p', nvidiaDriver: true })).backend, 'onnx');
});
