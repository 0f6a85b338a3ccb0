/**
 * "Export adapter" with the real demo model and a real PEFT adapter: PEFT copy, merged model and int8 ONNX through
 * the trainer worker, the not-empty target, cancellation, and that nothing partial is ever left beside the target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExportAdapterError, exportAdapter, type ExportAdapterOptions } from '../../server/src/pipeline/exportAdapter';
import { newRunDir, writeActiveRun } from '../../server/src/pipeline/runStore';
import { TrainerProcess } from '../../server/src/training/trainerProcess';
import { TRAINER_DIR, ensureDemoModel, pythonPath, tempDir } from '../helpers/paths';

const TEST_TIMEOUT_MS = 3 * 60_000;
/** From the export's first progress message to the cancel: the worker is up and importing torch by then. */
const CANCEL_AFTER_MS = 500;

/** A LoRA adapter of the demo model with non-zero lora_B (PEFT's zero init would make merging a no-op). */
const MAKE_ADAPTER = `
import sys, json, torch
torch.set_num_threads(1)
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
torch.manual_seed(1)
model = get_peft_model(AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
with torch.no_grad():
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.normal_(0.0, 0.02)
model.save_pretrained(sys.argv[2])
json.dump({"base_model": sys.argv[1], "steps": 3, "final_loss": 1.0}, open(sys.argv[2] + "/repotune-adapter.json", "w"))
`;

interface Setup {
  storageDir: string;
  workspace: string;
  runId: string;
  adapterDir: string;
  out: string;
}

let shared: Omit<Setup, 'out'> | undefined;

/** One run with an adapter for the whole file (making it imports torch: seconds); a fresh output folder per test. */
function setup(): Setup {
  shared ??= makeRun();
  return { ...shared, out: tempDir('export-out') };
}

function makeRun(): Omit<Setup, 'out'> {
  const storageDir = tempDir('export-storage');
  const workspace = tempDir('export-ws');
  const { runId, runDir } = newRunDir(storageDir, workspace);
  const adapterDir = path.join(runDir, 'adapter');
  execFileSync(pythonPath(), ['-c', MAKE_ADAPTER, ensureDemoModel(), adapterDir], {
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const model = ensureDemoModel();
  writeActiveRun(storageDir, workspace, { runId, runDir, modelDir: model, adapterDir, onnxDir: path.join(runDir, 'onnx'), activatedAt: new Date().toISOString() });
  return { storageDir, workspace, runId, adapterDir };
}

const makeWorker = () => new TrainerProcess({ python: pythonPath(), trainerDir: TRAINER_DIR, log: () => undefined });

function options(s: Setup, extra: Partial<ExportAdapterOptions>): ExportAdapterOptions {
  return { storageDir: s.storageDir, workspace: s.workspace, format: 'peft', targetDir: path.join(s.out, 'x'), makeWorker, ...extra };
}

/** Whatever the export left beside its target besides the target itself (staging folders must be gone). */
function leftovers(dir: string, keep: string[]): string[] {
  return fs.readdirSync(dir).filter((n) => !keep.includes(n));
}

test('exports the PEFT folder, merged model, int8 ONNX and Q8_0 GGUF; refuses a non-empty folder unless told to replace it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = setup();
  const messages: string[] = [];

  const peft = await exportAdapter(options(s, { targetDir: path.join(s.out, 'peft'), onProgress: (m) => messages.push(m) }));
  assert.equal(peft.runId, s.runId, 'the active run by default');
  assert.deepEqual(peft.files, ['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'repotune-adapter.json']);
  for (const f of peft.files) assert.ok(fs.readFileSync(path.join(s.out, 'peft', f)).equals(fs.readFileSync(path.join(s.adapterDir, f))), f);
  assert.match(messages.join('\n'), /Copying the PEFT adapter/);

  await assert.rejects(exportAdapter(options(s, { targetDir: path.join(s.out, 'peft') })), (e: ExportAdapterError) => e.kind === 'target_not_empty');
  fs.writeFileSync(path.join(s.out, 'peft', 'stale.txt'), 'old');
  const replaced = await exportAdapter(options(s, { targetDir: path.join(s.out, 'peft'), overwrite: true }));
  assert.equal(replaced.files.includes('stale.txt'), false, 'replacing clears the folder');

  const merged = await exportAdapter(options(s, { runId: s.runId, format: 'merged', targetDir: path.join(s.out, 'merged') }));
  assert.ok(['config.json', 'model.safetensors', 'tokenizer.json'].every((f) => merged.files.includes(f)), merged.files.join(','));

  const onnx = await exportAdapter(options(s, { format: 'onnx', quantize: 'int8', targetDir: path.join(s.out, 'onnx') }));
  assert.ok(onnx.files.includes('model.onnx'), onnx.files.join(','));
  const meta = JSON.parse(fs.readFileSync(path.join(s.out, 'onnx', 'repotune-onnx.json'), 'utf8'));
  assert.equal(meta.weight_quantization, 'int8');

  const gguf = await exportAdapter(options(s, { format: 'gguf', quantize: 'int8', targetDir: path.join(s.out, 'gguf'), onProgress: (m) => messages.push(m) }));
  assert.deepEqual(gguf.files, ['model.gguf', 'repotune-adapter.json']);
  assert.equal(fs.readFileSync(path.join(s.out, 'gguf', 'model.gguf')).subarray(0, 4).toString('latin1'), 'GGUF', 'a GGUF file (its contents: test_export_gguf.py)');
  assert.equal(JSON.parse(fs.readFileSync(path.join(s.out, 'gguf', 'repotune-adapter.json'), 'utf8')).tensor_type, 'q8_0');
  assert.match(messages.join('\n'), /to GGUF \(Q8_0\)/);
  assert.deepEqual(leftovers(s.out, ['peft', 'merged', 'onnx', 'gguf']), []);
});

test('cancelling a merged export stops the worker and leaves nothing behind', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = setup();
  const abort = new AbortController();
  // Aborted once the worker has started and is loading the model: the kill must stop it mid-export.
  const exporting = exportAdapter(options(s, { format: 'merged', signal: abort.signal, onProgress: () => setTimeout(() => abort.abort(), CANCEL_AFTER_MS) }));
  await assert.rejects(exporting, (e: ExportAdapterError) => e.kind === 'cancelled' && /nothing was written/.test(e.message));
  assert.deepEqual(leftovers(s.out, []), []);
});

test('bad requests get a clear error before anything is written', async () => {
  const s = { storageDir: tempDir('export-none'), workspace: tempDir('export-ws'), out: tempDir('export-out') };
  const base = { storageDir: s.storageDir, workspace: s.workspace, makeWorker, targetDir: path.join(s.out, 'x') };
  await assert.rejects(exportAdapter({ ...base, format: 'peft' }), /no active adapter/);
  await assert.rejects(exportAdapter({ ...base, format: 'peft', runId: '../etc' }), /There is no run "\.\.\/etc"/);
  await assert.rejects(exportAdapter({ ...base, format: 'peft', quantize: 'int4' }), /ONNX and GGUF exports only/);
  await assert.rejects(exportAdapter({ ...base, format: 'zip' as never }), /Unknown export format "zip"/);
  assert.deepEqual(fs.readdirSync(s.out), []);
});
