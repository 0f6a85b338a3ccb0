/**
 * The spine, end to end without VS Code: start the sidecar (dist/server.js) over stdio as a language client would,
 * fine-tune the DEMO model on a fixture repository through `repotune/fineTune`, then ask for an inline completion
 * through the standard `textDocument/inlineCompletion` request. The completion must be non-empty and must be what the
 * trained model itself produces: the test re-computes it with PyTorch + PEFT from the saved adapter.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  InitializeRequest,
  InitializedNotification,
  DidOpenTextDocumentNotification,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
  ShutdownRequest,
  ExitNotification,
  LogMessageNotification,
} from 'vscode-languageserver-protocol/node';
import { Notifications, Requests, type FineTuneResult, type HarvestSummaryParams, type ProgressParams, type StatusParams } from '../../server/src/protocol';
import { loadTokenizer } from '../../server/src/models/tokenizer';
import { detectFamily } from '../../server/src/examples/families';
import { DEFAULT_BUDGET } from '../../server/src/examples/promptBuilder';
import { cursorWindows } from '../../server/src/completion/context';
import { afterTyped, StablePromptBuilder } from '../../server/src/completion/stablePrompt';
import { harvest } from '../../server/src/harvest/harvest';
import { buildRetrievalIndex } from '../../server/src/retrieval/repoIndex';
import { REPO_ROOT, TRAINER_DIR, pythonPath, tempDir } from '../helpers/paths';
import { DEMO_LEARNING_RATE } from '../../server/src/pipeline/fineTune';
import { makeFixtureRepo, probeDocument, FIXTURE_PROBE } from '../helpers/fixtureRepo';
import { baseOnnxDir } from '../../server/src/models/modelStore';

/** Enough steps for the demo model to memorise the tiny fixture repository. */
const TRAIN_STEPS = 80;
/** The gated run only has to reach the gate's verdict. */
const GATED_RUN_STEPS = 10;
const TEST_TIMEOUT_MS = 8 * 60_000;
/** The sidecar indexes the workspace for cross-file context in the background once it serves: this long at most. */
const INDEX_READY_TIMEOUT_MS = 60_000;
const INDEX_POLL_MS = 50;
/** A learning rate other than the demo default, to see it arrive in the trainer. */
const GATED_RUN_LR = 4e-3;

function adapterLearningRate(adapterDir: string): number {
  return JSON.parse(fs.readFileSync(path.join(adapterDir, 'repotune-adapter.json'), 'utf8')).training.learning_rate;
}

test('fine-tune through the sidecar, then complete from the adapted model', { timeout: TEST_TIMEOUT_MS }, async () => {
  const storageDir = tempDir('lsp-storage');
  const workspace = makeFixtureRepo(tempDir('lsp-repo'));
  const server = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'server.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (d) => (stderr += d));
  const conn = createProtocolConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const progress: ProgressParams[] = [];
  const statuses: StatusParams[] = [];
  conn.onNotification(Notifications.progress, (p: ProgressParams) => void progress.push(p));
  conn.onNotification(Notifications.status, (s: StatusParams) => void statuses.push(s));
  const logs: string[] = [];
  conn.onNotification(LogMessageNotification.type, (m) => void logs.push(m.message));
  // The harvest summary asks before training when confirmBeforeTraining is set; `startTraining` is the answer.
  const asked: HarvestSummaryParams[] = [];
  let startTraining = false;
  conn.onRequest(Requests.confirmTraining, (summary: HarvestSummaryParams) => {
    asked.push(summary);
    return { start: startTraining };
  });
  conn.listen();
  try {
    const init = await conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(workspace).href,
      workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'fixture' }],
      capabilities: {},
      initializationOptions: { storageDir, trainerDir: TRAINER_DIR, pythonPath: pythonPath() },
    });
    assert.equal(init.capabilities.inlineCompletionProvider, true);
    await conn.sendNotification(InitializedNotification.type, {});

    // "Cancel" on the harvest summary: the run ends as cancelled before any training, leaving no run behind.
    const declined = (await conn.sendRequest(Requests.fineTune, { workspace, maxSteps: GATED_RUN_STEPS, confirmBeforeTraining: true })) as FineTuneResult;
    assert.equal(asked.length, 1);
    assert.ok(asked[0].filesOut > 0 && asked[0].trainFiles > 0, JSON.stringify(asked[0]));
    assert.deepEqual(asked[0].secretsRedacted, {});
    assert.equal(fs.existsSync(asked[0].manifestPath), false, 'the declined run folder is removed');
    assert.equal(declined.cancelled, true);
    assert.equal(declined.steps, 0);
    assert.match(declined.activationReason, /before training/);
    startTraining = true;

    // With the gate on (the default), a short run judged on the fixture's one-file holdout is kept, not served.
    // With a learning rate of its own (`repotune fine-tune --lr`), recorded in the adapter's metadata.
    const gated = (await conn.sendRequest(Requests.fineTune, { workspace, maxSteps: GATED_RUN_STEPS, confirmBeforeTraining: true, learningRate: GATED_RUN_LR })) as FineTuneResult;
    assert.equal(adapterLearningRate(gated.adapterDir), GATED_RUN_LR, 'the requested learning rate reached the trainer');
    assert.equal(asked.length, 2, 'one question per run: the harvest runs once');
    assert.equal(gated.activated, false);
    assert.match(gated.activationReason, /not activated/i);
    assert.ok(gated.evaluation && fs.existsSync(gated.evaluation.reportPath), 'evaluation report written beside the run');
    assert.match(gated.evaluation!.table, /base[\s\S]*adapter[\s\S]*gate: /);
    assert.ok(fs.existsSync(path.join(gated.adapterDir, 'adapter_model.safetensors')), 'a refused adapter is still kept');
    assert.notEqual(statuses.at(-1)?.state, 'serving');
    statuses.length = 0;
    progress.length = 0;

    const result = (await conn.sendRequest(Requests.fineTune, { workspace, maxSteps: TRAIN_STEPS, gate: false })) as FineTuneResult;
    assert.equal(result.cancelled, false);
    assert.equal(result.activated, true, result.activationReason);
    assert.equal(result.steps, TRAIN_STEPS);
    assert.ok(fs.existsSync(path.join(result.adapterDir, 'adapter_config.json')), 'PEFT adapter config written');
    assert.equal(adapterLearningRate(result.adapterDir), DEMO_LEARNING_RATE, 'without one, the demo model trains at its own rate');
    assert.ok(fs.existsSync(path.join(result.adapterDir, 'adapter_model.safetensors')), 'PEFT adapter weights written');
    assert.ok(fs.existsSync(path.join(result.onnxDir, 'model.onnx')), 'ONNX export written');
    const trainSteps = progress.filter((p) => p.stage === 'train' && (p.step ?? 0) > 0);
    assert.ok(trainSteps.length >= 2, 'training progress streamed');
    assert.ok(trainSteps.every((p) => typeof p.loss === 'number' && typeof p.tokensPerSecond === 'number'));
    assert.ok(statuses.some((s) => s.state === 'training') && statuses.at(-1)?.state === 'serving', `statuses: ${JSON.stringify(statuses)}`);

    // Requests before the workspace index is ready are served without cross-file context; once it is, with it.
    // Waiting for it makes the served prompt the one rebuilt below (a race the harvest's speed used to decide).
    const indexed = await waitFor(() => logs.find((l) => /Indexed \d+ files for cross-file context/.test(l)), INDEX_READY_TIMEOUT_MS);
    assert.ok(indexed, `the sidecar indexed the workspace; its log:\n${logs.join('\n')}`);

    const file = path.join(workspace, FIXTURE_PROBE.file);
    const { text, offset } = probeDocument(workspace);
    const uri = pathToFileURL(file).href;
    await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'python', version: 1, text } });
    const lines = text.slice(0, offset).split('\n');
    const position = { line: lines.length - 1, character: lines[lines.length - 1].length };
    const completion: any = await conn.sendRequest(InlineCompletionRequest.type, {
      textDocument: { uri },
      position,
      context: { triggerKind: InlineCompletionTriggerKind.Automatic },
    });
    const served: string = completion?.items?.[0]?.insertText ?? '';
    assert.ok(served.trim().length > 0, `non-empty completion expected; sidecar log:\n${stderr.slice(-2000)}`);

    // The serving prompt (cursor windows, anchored at the cursor line by the stable prompt builder, which wraps THE
    // prompt builder, with snippets retrieved from the workspace index as the sidecar builds it), generated by
    // PyTorch + PEFT from the saved adapter.
    const modelDir = path.join(storageDir, 'models', 'demo-tiny-qwen2');
    const tok = loadTokenizer(modelDir);
    const family = detectFamily(tok, 'demo');
    const windows = cursorWindows(text, offset);
    const retrieval = buildRetrievalIndex((await harvest(workspace, {})).files.map((f) => ({ path: f.path, text: f.text })));
    const prompt = new StablePromptBuilder(tok, family, DEFAULT_BUDGET).build({ prefix: windows.prefix, suffix: windows.suffix, path: FIXTURE_PROBE.file }, { retrieval });
    assert.ok(prompt.context.length > 0, 'the probe retrieves cross-file context, so the test covers it');
    const reference = greedyWithPeft(modelDir, result.adapterDir, prompt.ids, [...prompt.stopIds]);
    const referenceText = afterTyped(tok.decode(reference), prompt.pendingText);
    assert.ok(
      referenceText.startsWith(served.trimEnd()) || referenceText.trimStart().startsWith(served.trim()),
      `served ${JSON.stringify(served)} is not what the adapted model generates: ${JSON.stringify(referenceText)}`,
    );

    // Re-tuning a workspace that serves an adapter: the new one is also checked on the previous run's holdout.
    // With int8 serving weights asked for: the export and the base arm it is judged against are both int8.
    assert.equal(weightQuantization(result.onnxDir), null, '"auto" serves the small demo model in fp32');
    const retuned = (await conn.sendRequest(Requests.fineTune, { workspace, maxSteps: GATED_RUN_STEPS, quantization: 'int8' })) as FineTuneResult;
    assert.equal(weightQuantization(retuned.onnxDir), 'int8');
    assert.equal(weightQuantization(baseOnnxDir(storageDir, modelDir, 'int8')), 'int8', 'the base arm was exported with int8 weights too');
    assert.match(retuned.evaluation!.table, /completion tasks from the holdout, int8 weights/);
    const retunedReport = JSON.parse(fs.readFileSync(retuned.evaluation!.reportPath, 'utf8'));
    assert.equal(path.basename(retunedReport.forgetting?.previousRunDir ?? ''), path.basename(path.dirname(result.onnxDir)), 'checked against the active run');
    assert.ok(retunedReport.checkpoint?.reason, 'the checkpoint choice is recorded');
    assert.match(retuned.evaluation!.table, /forgetting \(\d+ tasks of the previous holdout\)/);
    assert.ok(fs.existsSync(path.join(path.dirname(retuned.evaluation!.reportPath), 'holdout.json')), 'holdout saved for the next run');
  } finally {
    await conn.sendRequest(ShutdownRequest.type).catch(() => undefined);
    await conn.sendNotification(ExitNotification.type).catch(() => undefined);
    conn.dispose();
    server.kill();
  }
});

/** The weight quantization an ONNX export's metadata records (null = fp32). */
function weightQuantization(onnxDir: string): string | null {
  return JSON.parse(fs.readFileSync(path.join(onnxDir, 'repotune-onnx.json'), 'utf8')).weight_quantization ?? null;
}

/** Polls `probe` until it returns something, or undefined after `timeoutMs`. */
async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, INDEX_POLL_MS));
  }
}

/** Greedy continuation of `ids` by the base model + LoRA adapter in PyTorch, stopping at a stop id. */
function greedyWithPeft(modelDir: string, adapterDir: string, ids: number[], stopIds: number[]): number[] {
  const script = `
import json, sys, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel
a = json.loads(sys.stdin.read())
m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(a["model"], dtype=torch.float32), a["adapter"]).eval()
ids = torch.tensor([a["ids"]])
out = []
with torch.no_grad():
    for _ in range(64):
        nxt = int(m(input_ids=ids).logits[0, -1].argmax())
        if nxt in a["stop"]: break
        out.append(nxt)
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
print(json.dumps(out))
`;
  const stdout = execFileSync(pythonPath(), ['-c', script], {
    input: JSON.stringify({ model: modelDir, adapter: adapterDir, ids, stop: stopIds }),
    env: { ...process.env, PYTHONPATH: TRAINER_DIR },
    encoding: 'utf8',
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}
