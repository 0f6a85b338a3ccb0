/**
 * Where models live and how the default one appears. The default is the offline DEMO model, generated on first
 * use by the trainer (random weights, real Qwen2 architecture); any other model is a local Hugging Face directory
 * (or one downloaded into the HF cache layout by the hub client), loaded by the very same code.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readOnnxModelInfo } from '../completion/engine/onnxMetadata';
import type { ExportQuantization } from '../protocol';
import { DEMO_MODEL_TIMEOUT_MS, EXPORT_TIMEOUT_MS, TrainerError, type TrainerProcess } from '../training/trainerProcess';

export const DEMO_MODEL_NAME = 'demo-tiny-qwen2';
export const DEMO_MODEL_SEED = 0;

export function demoModelDir(storageDir: string): string {
  return path.join(storageDir, 'models', DEMO_MODEL_NAME);
}

export function isDemoModel(modelDir: string): boolean {
  return fs.existsSync(path.join(modelDir, 'repotune-demo.json'));
}

/** Returns the demo model's directory, asking the trainer to generate it when it is not there yet. */
export async function ensureDemoModel(trainer: TrainerProcess, storageDir: string): Promise<string> {
  const dir = demoModelDir(storageDir);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  await trainer.request('make_demo_model', { out_dir: dir, seed: DEMO_MODEL_SEED }, DEMO_MODEL_TIMEOUT_MS);
  return dir;
}

/** Checks that a directory looks like a Hugging Face causal-LM directory RepoTune can use, with a fix in the message. */
export function checkModelDir(modelDir: string): void {
  if (!fs.existsSync(modelDir)) throw new TrainerError(`Model directory not found: ${modelDir}`, 'bad_model');
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!fs.existsSync(path.join(modelDir, f))) {
      throw new TrainerError(`${modelDir} is not a Hugging Face model directory: ${f} is missing.`, 'bad_model');
    }
  }
}

/**
 * Where the ONNX export of a base model (no adapter) is cached: the "before" of the demo and the base arms of
 * evaluation. One per weight quantization (fp32 keeps the folder name it always had).
 */
export function baseOnnxDir(storageDir: string, modelDir: string, quantize: ExportQuantization = null): string {
  const hash = crypto.createHash('sha256').update(path.resolve(modelDir)).digest('hex').slice(0, 12);
  return path.join(storageDir, 'base-onnx', `${path.basename(modelDir)}-${hash}${quantize ? `-${quantize}` : ''}`);
}

/** Exports the base model once (with `quantize` weights) and returns its ONNX directory. */
export async function ensureBaseOnnx(trainer: TrainerProcess, storageDir: string, modelDir: string, quantize: ExportQuantization = null): Promise<string> {
  const dir = baseOnnxDir(storageDir, modelDir, quantize);
  if (!fs.existsSync(path.join(dir, 'model.onnx'))) {
    await trainer.request('export_onnx', { model_dir: modelDir, adapter_dir: null, out_dir: dir, quantize }, EXPORT_TIMEOUT_MS);
  }
  return dir;
}

/** The base model exported with the weights of `adapterOnnxDir` (an adapter's export): its arm is scored as served. */
export function ensureBaseOnnxLike(trainer: TrainerProcess, storageDir: string, modelDir: string, adapterOnnxDir: string): Promise<string> {
  return ensureBaseOnnx(trainer, storageDir, modelDir, readOnnxModelInfo(adapterOnnxDir).weightQuantization);
}
