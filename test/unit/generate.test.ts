/**
 * "Generate model code" end to end with the real DEMO model served by the ORT engine: spec → prompt (from THE prompt
 * builder, with the spec docstring and the repository's model classes) → generation → parse check → preview stream.
 * The demo model writes random text, so its code never parses: that drives the retry path, whose prompts must quote
 * the previous error. A scripted engine (real tokenizer) then shows a retry that succeeds and passes the smoke test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OrtEngine, type GenerateOptions } from '../../server/src/completion/engine/ortEngine';
import { detectFamily } from '../../server/src/examples/families';
import { buildFimPrompt } from '../../server/src/examples/promptBuilder';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';
import { buildSkeleton } from '../../server/src/generate/skeleton';
import { findModelClasses } from '../../server/src/generate/repoStyle';
import {
  describeAttempts, generateModelCode, GENERATION_BUDGET, MAX_GENERATION_ATTEMPTS, MAX_GENERATION_TOKENS, type GenerationEngine,
} from '../../server/src/generate/generator';
import { parseSpec } from '../../server/src/generate/spec';
import { modelCodeDefaults, runGenerateRequest } from '../../server/src/generate/request';
import { writeActiveRun } from '../../server/src/pipeline/runStore';
import { TRAINER_DIR, ensureDemoModel, pythonPath, tempDir } from '../helpers/paths';
import { outsideTempDir, removeDir, writeFiles } from '../helpers/gitFixture';
import { ensureDemoOnnx } from '../helpers/onnxModel';

/** Enough tokens to exercise streaming and the checks; the default budget is for real models. */
const TEST_MAX_NEW_TOKENS = 96;

const SPEC = parseSpec({ task: 'tiny classifier for sensor readings', inputs: 'x: float32[B, 16]', outputs: 'logits: float32[B, 4]', loss: 'cross_entropy' });
const STYLE_FILE = {
  path: 'models/mlp.py', language: 'python',
  text: 'import torch\nfrom torch import nn\n\n\nclass HouseMlp(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.layers = nn.Sequential(nn.Linear(8, 8), nn.GELU())\n\n    def forward(self, x):\n        return self.layers(x)\n',
};

let engine: OrtEngine;
let tokenizer: CodeTokenizer;

before(async () => {
  const modelDir = ensureDemoModel();
  tokenizer = loadTokenizer(modelDir);
  engine = await OrtEngine.load(ensureDemoOnnx());
});

after(async () => {
  await engine?.dispose();
});

test('demo model: prompt from buildFimPrompt with the spec docstring and style examples; parse failure retries with the error', async (t) => {
  const family = detectFamily(tokenizer, 'demo');
  const examples = findModelClasses([STYLE_FILE], 'torch');
  const streamed: { attempt: number; code: string; done: boolean }[] = [];
  const result = await generateModelCode(
    { spec: SPEC, runSmokeTest: true, targetPath: 'models/sensor.py' },
    { engine, tokenizer, family, python: pythonPath(), trainerDir: TRAINER_DIR, examples, maxNewTokens: TEST_MAX_NEW_TOKENS, onCode: (u) => void streamed.push(u) },
  );
  t.diagnostic(describeAttempts(result));
  assert.ok(MAX_GENERATION_TOKENS > 64, 'a larger budget than inline completion');

  // The first prompt is exactly what the shared prompt builder makes of skeleton + style examples.
  const skeleton = buildSkeleton(SPEC);
  const expected = buildFimPrompt(tokenizer, family, { prefix: skeleton.prefix, suffix: skeleton.suffix, path: 'models/sensor.py', context: examples }, GENERATION_BUDGET);
  assert.deepEqual(result.attempts[0].promptIds, expected.ids);
  const firstPrompt = tokenizer.decode(result.attempts[0].promptIds);
  assert.ok(firstPrompt.includes('"""tiny classifier for sensor readings\n\n    Inputs:\n        x: float32[B, 16]\n    Outputs:\n        logits: float32[B, 4]'), firstPrompt);
  assert.ok(firstPrompt.includes('class TinyClassifierSensorModel(nn.Module):'));
  assert.ok(firstPrompt.includes('class HouseMlp(nn.Module):'), 'the repository model class is in the prompt as context');

  // Random weights write no valid class body: every attempt fails its parse check, each retry quotes the last error.
  assert.equal(result.ok, false);
  assert.equal(result.cancelled, false);
  assert.equal(result.attempts.length, MAX_GENERATION_ATTEMPTS);
  for (let i = 0; i < result.attempts.length; i++) {
    const a = result.attempts[i];
    assert.equal(a.parse.ok, false, `attempt ${a.attempt} parses?\n${a.code}`);
    assert.ok(a.error && a.error === a.parse.error);
    assert.equal(a.smoke, undefined, 'no smoke test on code that does not parse');
    assert.ok(a.code.startsWith(skeleton.prefix) && a.code.endsWith(skeleton.suffix), 'the preview holds the whole file');
    if (i > 0) {
      const prompt = tokenizer.decode(a.promptIds);
      const firstErrorLine = result.attempts[i - 1].error!.split('\n')[0];
      assert.ok(prompt.includes(`# ${firstErrorLine}`), `attempt ${a.attempt}'s prompt quotes the previous error ${JSON.stringify(firstErrorLine)}`);
    }
  }
  assert.equal(result.code, result.attempts.at(-1)!.code);

  // The preview stream: updates per token for each attempt, each attempt closed by its full code.
  const done = streamed.filter((u) => u.done);
  assert.deepEqual(done.map((u) => u.attempt), [1, 2, 3]);
  assert.deepEqual(done.map((u) => u.code), result.attempts.map((a) => a.code));
  assert.ok(streamed.filter((u) => !u.done && u.attempt === 1).length >= 1, 'tokens streamed before the attempt ended');
});

test('a retry that fixes the error stops the loop, and its code passes the smoke test', async () => {
  const family = detectFamily(tokenizer, 'demo');
  const bodies = ['        self.fc = nn.Linear(16, 4\n', '        self.fc = nn.Linear(16, 4)\n\n    def forward(self, x):\n        return self.fc(x)\n'];
  const prompts: string[] = [];
  // Scripted answers through the real tokenizer (the demo model cannot write valid code).
  const scripted: GenerationEngine = {
    async generate(promptIds: readonly number[], opts: GenerateOptions) {
      prompts.push(tokenizer.decode(promptIds));
      const ids = tokenizer.encode(bodies[prompts.length - 1]);
      for (let i = 1; i <= ids.length; i++) opts.onToken?.(ids[i - 1], ids.slice(0, i));
      return { ids, stoppedBy: 'stop' as const, reusedTokens: 0, prefilledTokens: promptIds.length, prefillMs: 0, decodeMs: 0 };
    },
  };
  const result = await generateModelCode({ spec: SPEC, runSmokeTest: true }, { engine: scripted, tokenizer, family, python: pythonPath(), trainerDir: TRAINER_DIR });
  assert.equal(result.ok, true, describeAttempts(result));
  assert.equal(result.attempts.length, 2);
  assert.match(result.attempts[0].error ?? '', /SyntaxError.*\(line \d+\)/);
  assert.match(prompts[1], /# Attempt 2: the previous version of this file failed its check with:\n# SyntaxError/);
  assert.equal(result.attempts[1].smoke?.passed, true, result.attempts[1].smoke?.output);
  assert.match(result.code, /def forward\(self, x\):\n        return self\.fc\(x\)\n\n\ndef loss_fn/);
});

test('the request as the sidecar and CLI run it: active run, repository style, protocol answer, clear refusals', async (t) => {
  // Outside this checkout: inside it, the harvester would see this repository's git (which ignores .cache/).
  const workspace = outsideTempDir('gen-ws');
  t.after(() => removeDir(workspace));
  writeFiles(workspace, { [STYLE_FILE.path]: STYLE_FILE.text });
  const storageDir = tempDir('gen-storage');
  const env = { storageDir, python: pythonPath(), trainerDir: TRAINER_DIR, maxNewTokens: 16 };
  const fields = { task: 'tiny classifier', inputs: 'x: [B, 8]', outputs: 'y: [B, 2]', loss: 'mse' };
  const params = { workspace, requestId: 'r1', fields, runSmokeTest: false };
  await assert.rejects(runGenerateRequest(params, env), /No fine-tuned model for .* run "RepoTune: Fine-tune on workspace"/);

  writeActiveRun(storageDir, workspace, {
    runId: 'demo', runDir: storageDir, modelDir: ensureDemoModel(), adapterDir: '', onnxDir: ensureDemoOnnx(), activatedAt: new Date().toISOString(),
  });
  assert.deepEqual(await modelCodeDefaults(workspace), { framework: 'torch', modelClasses: ['HouseMlp (models/mlp.py)'] });
  await assert.rejects(runGenerateRequest({ ...params, fields: { ...fields, loss: 'hinge-ish' } }, env), /Unknown loss "hinge-ish"/);
  const updates: number[] = [];
  const result = await runGenerateRequest(params, { ...env, onCode: (u) => void updates.push(u.attempt) });
  assert.equal(result.className, 'TinyClassifier');
  assert.equal(result.fileName, 'tiny_classifier.py');
  assert.match(result.code, /class TinyClassifier\(nn\.Module\):[\s\S]*def loss_fn\(outputs, targets\):\n    return F\.mse_loss/);
  assert.equal(result.ok, false);
  assert.equal(result.attempts.length, MAX_GENERATION_ATTEMPTS);
  assert.ok(result.attempts.every((a) => a.error && a.smokePassed === undefined), 'no smoke test without runSmokeTest');
  assert.match(result.summary, /checks failed after 3 attempt\(s\)$/);
  assert.ok(updates.includes(3));
});
