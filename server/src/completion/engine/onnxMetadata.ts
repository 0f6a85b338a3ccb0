/**
 * Reads and checks repotune-onnx.json, the metadata the exporter writes next to model.onnx
 * (docs/architecture.md, "Adapter and export layout"). Everything the engine needs to build feeds comes from here,
 * so a model of another size or layer count needs no code change.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportQuantization } from '../../protocol';

export const ONNX_MODEL_FILE = 'model.onnx';
export const ONNX_METADATA_FILE = 'repotune-onnx.json';

export interface OnnxModelInfo {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  /**
   * The graph accepts past_key_values.* as a fixed-length buffer, the cached length being position_ids[0]
   * (export `attention` "buffer", the default, or "gqa"). "concat" exports need the past to hold exactly the
   * cached positions.
   */
  readonly sharedKvBuffer: boolean;
  /**
   * The graph outputs new_key_values.* (the fed positions' keys/values, [1, S, kvH * D]; "buffer" exports, and
   * "gqa" ones since 2026-11-30), which the engine writes into its buffer. Older gqa exports are served by binding
   * the buffer as present.* too, which costs a copy of the whole buffer per step (onnxruntime-node copies every
   * fetched output into JavaScript's memory: ~15 ms of an ~85 ms decode step of the 0.5B shape at a 2k context).
   */
  readonly newKeyValues: boolean;
  /** past_key_values.*.key is [1, kvH, D, capacity] (the "buffer" graph: its scores are then a plain MatMul). */
  readonly keysTransposed: boolean;
  /** Absolute path of model.onnx. */
  readonly modelPath: string;
  /** Weights of the linear layers: null = fp32, else blockwise int8/int4 (the export's --quantize). */
  readonly weightQuantization: ExportQuantization;
}

/** A model directory that cannot be served; the message names the file and what to do. */
export class OnnxModelError extends Error {}

function positiveInt(meta: Record<string, unknown>, key: string, file: string): number {
  const v = meta[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new OnnxModelError(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}. Re-export the model.`);
  }
  return v;
}

export function readOnnxModelInfo(onnxDir: string): OnnxModelInfo {
  const metaPath = path.join(onnxDir, ONNX_METADATA_FILE);
  const modelPath = path.resolve(onnxDir, ONNX_MODEL_FILE);
  if (!fs.existsSync(metaPath)) {
    throw new OnnxModelError(`Missing ${metaPath}: the directory is not a RepoTune ONNX export. Run the export step again.`);
  }
  if (!fs.existsSync(modelPath)) {
    throw new OnnxModelError(`Missing ${modelPath}: the ONNX export is incomplete. Run the export step again.`);
  }
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  } catch (err) {
    throw new OnnxModelError(`Corrupt ${metaPath}: ${(err as Error).message}. Run the export step again.`);
  }
  if (meta === null || typeof meta !== 'object') throw new OnnxModelError(`Corrupt ${metaPath}: not a JSON object.`);
  if (meta.dtype !== undefined && meta.dtype !== 'float32') {
    throw new OnnxModelError(`${metaPath}: dtype ${JSON.stringify(meta.dtype)} is not supported (RepoTune serves float32).`);
  }
  const eos = meta.eos_token_ids;
  if (!Array.isArray(eos) || !eos.every((x) => Number.isInteger(x))) {
    throw new OnnxModelError(`${metaPath}: "eos_token_ids" must be a list of integers.`);
  }
  return {
    numLayers: positiveInt(meta, 'num_layers', metaPath),
    numKvHeads: positiveInt(meta, 'num_kv_heads', metaPath),
    headDim: positiveInt(meta, 'head_dim', metaPath),
    vocabSize: positiveInt(meta, 'vocab_size', metaPath),
    eosTokenIds: eos as number[],
    sharedKvBuffer: meta.attention === 'gqa' || meta.attention === 'buffer',
    newKeyValues: Array.isArray(meta.outputs) && meta.outputs.includes(newKeyName(0)),
    keysTransposed: meta.attention === 'buffer',
    modelPath,
    weightQuantization: meta.weight_quantization === 'int8' || meta.weight_quantization === 'int4' ? meta.weight_quantization : null,
  };
}

/** Graph input/output names fixed by the export contract. */
export function pastKeyName(layer: number): string { return `past_key_values.${layer}.key`; }
export function pastValueName(layer: number): string { return `past_key_values.${layer}.value`; }
export function presentKeyName(layer: number): string { return `present.${layer}.key`; }
export function presentValueName(layer: number): string { return `present.${layer}.value`; }
export function newKeyName(layer: number): string { return `new_key_values.${layer}.key`; }
export function newValueName(layer: number): string { return `new_key_values.${layer}.value`; }
