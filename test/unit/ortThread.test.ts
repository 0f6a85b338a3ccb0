/**
 * OrtThreadEngine (the engine on its own thread) against OrtEngine in this thread, on the real demo model: the same
 * ids, stop reasons and filter calls; cancellation and filters stop it at the same token; this thread's event loop
 * keeps turning while the other runs the model; a dead thread fails its request and is started again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompletionEngine, GenerateOptions } from '../../server/src/completion/engine/engine';
import { OrtEngine, PREFILL_CHUNK_TOKENS } from '../../server/src/completion/engine/ortEngine';
import { OnnxModelError } from '../../server/src/completion/engine/onnxMetadata';
import { findOrtWorkerScript, OrtThreadEngine } from '../../server/src/completion/engine/ortThread';
import { demoFim, generateAbortingAfter } from '../helpers/onnxModel';
import { tempDir } from '../helpers/paths';
import type { CodeTokenizer } from '../../server/src/models/tokenizer';

const NEW_TOKENS = 24;
/** Prefill runs of the long prompt in the event-loop test. */
const LONG_PROMPT_RUNS = 6;

let onnxDir: string;
let tok: CodeTokenizer;
let prompt: number[];
let stopIds: Set<number>;
let threaded: CompletionEngine;
let inThread: OrtEngine;

before(async () => {
  ({ onnxDir, tok, prompt, stopIds } = demoFim());
  threaded = await OrtThreadEngine.load(onnxDir);
  inThread = await OrtEngine.load(onnxDir);
});

after(async () => {
  await threaded?.dispose();
  await inThread?.dispose();
});

/** A generation with every onToken call recorded: [id, ids so far]. */
async function recorded(engine: CompletionEngine, ids: readonly number[], opts: Omit<GenerateOptions, 'onToken'>, stopAt?: number) {
  const calls: [number, number[]][] = [];
  const result = await engine.generate(ids, {
    ...opts,
    onToken: (id, soFar) => {
      calls.push([id, [...soFar]]);
      return soFar.length !== stopAt;
    },
  });
  return { result, calls };
}

test('loads on a thread of its own from the worker bundle beside the tests', () => {
  assert.ok(findOrtWorkerScript(), 'out/test/ortWorker.js is built by esbuild.mjs --tests');
  assert.ok(threaded instanceof OrtThreadEngine);
});

test('gives the ids, stop reasons and filter calls of OrtEngine in this thread', async () => {
  const other = tok.encode('function add(a, b) {\n  return');
  const cases: [string, number[], Omit<GenerateOptions, 'onToken'>, number | undefined][] = [
    ['length', prompt, { maxNewTokens: NEW_TOKENS, stopIds: [] }, undefined],
    ['stop ids', prompt, { maxNewTokens: NEW_TOKENS, stopIds }, undefined],
    ['filter stops at 5', other, { maxNewTokens: NEW_TOKENS, stopIds: [] }, 5],
    ['no new tokens', other, { maxNewTokens: 0, stopIds: [] }, undefined],
  ];
  for (const [name, ids, opts, stopAt] of cases) {
    inThread.resetCache();
    const want = await recorded(inThread, ids, opts, stopAt);
    const got = await recorded(threaded, ids, opts, stopAt);
    assert.deepEqual(got.result.ids, want.result.ids, name);
    assert.equal(got.result.stoppedBy, want.result.stoppedBy, name);
    assert.deepEqual(got.calls, want.calls, name);
  }
  const plain = await threaded.generate(prompt, { maxNewTokens: 4, stopIds: [] });
  assert.equal(plain.ids.length, 4, 'without onToken no verdict is waited for');
  // The next request may follow at once: the engine is free as soon as the caller has the answer.
  const next = await threaded.generate(prompt, { maxNewTokens: 2, stopIds: [] });
  assert.equal(next.ids.length, 2);
});

test('a cancel stops it at the token where it came, like OrtEngine; an aborted signal stops it before any run', async () => {
  const got = await generateAbortingAfter(threaded, prompt, 3, NEW_TOKENS);
  inThread.resetCache();
  const want = await generateAbortingAfter(inThread, prompt, 3, NEW_TOKENS);
  assert.equal(got.stoppedBy, 'cancelled');
  assert.deepEqual(got.ids, want.ids);
  const controller = new AbortController();
  controller.abort();
  const none = await threaded.generate(prompt, { maxNewTokens: NEW_TOKENS, stopIds: [], signal: controller.signal });
  assert.deepEqual([none.stoppedBy, none.ids, none.prefilledTokens], ['cancelled', [], 0]);
});

test("this thread's event loop turns while the model runs on the other", async () => {
  // A prompt of several prefill runs; one decode step after it.
  const long = Array.from({ length: LONG_PROMPT_RUNS * PREFILL_CHUNK_TOKENS }, (_, i) => prompt[i % prompt.length]);
  const turnsUntilFirstToken = async (engine: CompletionEngine) => {
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    let atFirstToken = -1;
    try {
      await engine.generate(long, { maxNewTokens: 1, stopIds: [], onToken: () => void (atFirstToken = turns) });
    } finally {
      spinning = false;
    }
    return atFirstToken;
  };
  inThread.resetCache();
  const here = await turnsUntilFirstToken(inThread);
  // In this thread every run holds the loop: it turns about once per run.
  assert.ok(here <= LONG_PROMPT_RUNS + 2, `in this thread: ${here} turns`);
  const there = await turnsUntilFirstToken(threaded);
  assert.ok(there > 4 * LONG_PROMPT_RUNS, `on its own thread: ${there} turns during ${LONG_PROMPT_RUNS} prefill runs`);
});

test('negLogLikelihood (bits per byte) gives what OrtEngine gives, and stops when cancelled', async () => {
  const ids = tok.encode('def area(side):\n    return side * side\n\nclass Square:\n    pass\n');
  const want = await inThread.negLogLikelihood(ids);
  const got = await (threaded as OrtThreadEngine).negLogLikelihood(ids);
  assert.equal(got.scored, ids.length - 1);
  assert.ok(Math.abs(got.nats - want.nats) < 1e-6, `${got.nats} vs ${want.nats}`);
  const controller = new AbortController();
  controller.abort();
  const none = await (threaded as OrtThreadEngine).negLogLikelihood(ids, controller.signal);
  assert.equal(none.scored, 0, 'an aborted signal scores nothing');
});

test('a filter that throws fails the request with its error; the engine goes on serving', async () => {
  await assert.rejects(
    threaded.generate(prompt, {
      maxNewTokens: NEW_TOKENS,
      stopIds: [],
      onToken: () => {
        throw new Error('filter broke');
      },
    }),
    /filter broke/,
  );
  const again = await threaded.generate(prompt, { maxNewTokens: 3, stopIds: [] });
  assert.equal(again.ids.length, 3);
});

test('calls must be serialised, as with OrtEngine', async () => {
  const first = threaded.generate(prompt, { maxNewTokens: 4, stopIds: [] });
  await assert.rejects(threaded.generate(prompt, { maxNewTokens: 4, stopIds: [] }), /must be serialised/);
  await first;
});

test('a thread that dies fails its request, and the next request starts another', async () => {
  const engine = await OrtThreadEngine.load(onnxDir);
  try {
    const worker = (engine as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const dying = engine.generate(prompt, {
      maxNewTokens: NEW_TOKENS,
      stopIds: [],
      onToken: (_id, ids) => {
        if (ids.length === 2) void worker.terminate();
      },
    });
    await assert.rejects(dying, /completion engine thread stopped/);
    const after = await engine.generate(prompt, { maxNewTokens: 3, stopIds: [] });
    assert.equal(after.ids.length, 3);
  } finally {
    await engine.dispose();
  }
});

test('dispose during a generation cancels it first, then releases the model', async () => {
  const engine = await OrtThreadEngine.load(onnxDir);
  let tokens = 0;
  const running = engine.generate(prompt, { maxNewTokens: 200, stopIds: [], onToken: () => void tokens++ });
  while (tokens < 2) await new Promise((r) => setImmediate(r));
  await engine.dispose();
  const result = await running;
  assert.equal(result.stoppedBy, 'cancelled');
  assert.ok(result.ids.length < 200);
  await assert.rejects(engine.generate(prompt, { maxNewTokens: 2, stopIds: [] }), /after dispose/);
});

test('dispose while a dead thread is being started again cancels the request it starts for', async () => {
  const engine = await OrtThreadEngine.load(onnxDir);
  const worker = (engine as unknown as { worker: { terminate(): Promise<number> } }).worker;
  await worker.terminate();
  const restarting = engine.generate(prompt, { maxNewTokens: 200, stopIds: [] });
  await engine.dispose();
  const result = await restarting;
  assert.equal(result.stoppedBy, 'cancelled');
});

test('a corrupt export fails to load with the OnnxModelError OrtEngine gives', async () => {
  const dir = tempDir('ort-thread-corrupt');
  fs.cpSync(onnxDir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.onnx'), 'not a model');
  await assert.rejects(OrtThreadEngine.load(dir), (err: Error) => err instanceof OnnxModelError && /Cannot load .*model\.onnx/.test(err.message));
});
