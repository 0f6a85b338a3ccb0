/**
 * Bytes one decoding step reads, ours and llama.cpp's, for bench/complete: every linear weight and the whole KV
 * cache once per token. bench/complete divides them by the measured step time: the rate each engine gets through
 * its bytes. On this VM (one thread) fp32 weights went through at ~16 GB/s and both engines' 4-bit kernels at
 * ~7.8 GB/s of packed weights (unpacking and scaling cost more than reading), so at 4 bits the speed ratio of the
 * two engines is, to a few percent, the inverse ratio of their bytes: a gap in this table is the formats', not the
 * kernels'.
 *
 * Arithmetic from config.json and the formats, not a measurement:
 *  - ours, int4: MatMulNBits with blocks of 32 four-bit values and one float32 scale each (onnx_quant.py; the
 *    float16 variant of the op, float16 scales and activations, measured no faster), 5 bits per weight; fp32: 4 bytes.
 *    The KV cache is float32 and each step reads the whole buffer (engine/kvCache.ts CAPACITY_STEP_TOKENS).
 *  - llama.cpp: Q4_0 (blocks of 32 four-bit values and one float16 scale), 4.5 bits per weight; F32: 4 bytes. Its
 *    KV cache is float16 over the cached positions (its padding of the attended length is left out).
 * The embedding lookup reads one row per token in both and is left out; the lm_head (tied or not) is counted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CAPACITY_STEP_TOKENS } from '../server/src/completion/engine/kvCache';

interface ModelShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

export function readShape(modelDir: string): ModelShape {
  const c = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const heads = c.num_attention_heads;
  return {
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads: c.num_key_value_heads ?? heads,
    headDim: c.head_dim ?? c.hidden_size / heads,
    vocab: c.vocab_size,
  };
}

/** Weights of every matrix a decode step multiplies by: q, k, v, o, gate, up, down per layer, and the lm_head. */
function linearWeights(s: ModelShape): number {
  const attention = s.hidden * (s.heads + 2 * s.kvHeads) * s.headDim + s.heads * s.headDim * s.hidden;
  return s.layers * (attention + 3 * s.hidden * s.intermediate) + s.vocab * s.hidden;
}

export interface StepBytes {
  weights: number;
  kv: number;
}

/** Our engine's bytes per decode step after `cached` positions, int4 or fp32 weights. */
export function oursPerStep(s: ModelShape, cached: number, int4: boolean): StepBytes {
  const capacity = Math.ceil((cached + 1) / CAPACITY_STEP_TOKENS) * CAPACITY_STEP_TOKENS;
  return { weights: linearWeights(s) * (int4 ? 0.5 + 4 / 32 : 4), kv: s.layers * 2 * s.kvHeads * s.headDim * capacity * 4 };
}

/** llama.cpp's bytes per decode step after `cached` positions, Q4_0 or F32 weights, float16 KV cache. */
export function llamaPerStep(s: ModelShape, cached: number, q4: boolean): StepBytes {
  return { weights: linearWeights(s) * (q4 ? 18 / 32 : 4), kv: s.layers * 2 * s.kvHeads * s.headDim * cached * 2 };
}

export const total = (b: StepBytes) => b.weights + b.kv;
