/**
 * A LoRA adapter for the demo model with random (non-zero) weights, and the demo model exported to ONNX with it
 * merged: what a finished training run leaves for serving, without the minute of training. Made once per checkout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CACHE_DIR, TRAINER_DIR, ensureDemoModel, pythonPath } from './paths';

/** Rank and scale large enough that the adapter changes the demo model's greedy output. */
const ADAPTER_SCRIPT = [
  'import sys, torch',
  'from peft import LoraConfig, get_peft_model',
  'from transformers import AutoModelForCausalLM',
  'model_dir, out = sys.argv[1], sys.argv[2]',
  'torch.manual_seed(0)',
  'model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)',
  'cfg = LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False)',
  'get_peft_model(model, cfg).save_pretrained(out, safe_serialization=True)',
].join('\n');

function run(args: string[]): void {
  execFileSync(pythonPath(), args, { cwd: TRAINER_DIR, env: { ...process.env, PYTHONPATH: TRAINER_DIR }, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Returns {adapterDir, onnxDir} (the export of demo model + adapter); each made once and renamed into place. */
export function ensureRandomAdapter(): { modelDir: string; adapterDir: string; onnxDir: string } {
  const modelDir = ensureDemoModel();
  const adapterDir = path.join(CACHE_DIR, 'demo-random-adapter');
  const onnxDir = path.join(CACHE_DIR, 'demo-random-adapter-onnx');
  for (const [dir, marker, make] of [
    [adapterDir, 'adapter_model.safetensors', (out: string) => run(['-c', ADAPTER_SCRIPT, modelDir, out])],
    [onnxDir, 'repotune-onnx.json', (out: string) => run(['-m', 'repotune_trainer.export_onnx', '--model', modelDir, '--adapter', adapterDir, '--out', out])],
  ] as const) {
    if (fs.existsSync(path.join(dir, marker))) continue;
    // Test files run in parallel processes: each writes its own staging dir and the first rename wins.
    const staging = `${dir}.staging-${process.pid}`;
    try {
      make(staging);
      fs.renameSync(staging, dir);
    } catch (err) {
      if (!fs.existsSync(path.join(dir, marker))) throw err;
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return { modelDir, adapterDir, onnxDir };
}
