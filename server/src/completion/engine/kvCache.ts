/**
 * The attention KV cache between decoding steps, and between calls: the ids whose keys/values it holds plus the
 * per-layer `present.*` tensors. Keeping it after a call lets the next prompt that starts with the same tokens
 * (the common case while typing: only the end of the prefix changes) prefill only its new tail.
 */
import * as ort from 'onnxruntime-node';
import { pastKeyName, pastValueName, presentKeyName, presentValueName, type OnnxModelInfo } from './onnxMetadata';

interface LayerKv {
  key: Float32Array;
  value: Float32Array;
}

export class KvCache {
  /** Token ids whose keys/values are held, in position order. */
  private ids: number[] = [];
  private layers: LayerKv[] = [];

  constructor(private readonly info: OnnxModelInfo) {}

  get length(): number {
    return this.ids.length;
  }

  clear(): void {
    this.ids = [];
    this.layers = [];
  }

  /** Length of the longest prefix of `prompt` whose keys/values are held. */
  commonPrefixLength(prompt: readonly number[]): number {
    const n = Math.min(prompt.length, this.ids.length);
    let i = 0;
    while (i < n && this.ids[i] === prompt[i]) i++;
    return i;
  }

  /** Drops every position from `keep` on (the cache must stay a prefix of what the next feed continues). */
  truncate(keep: number): void {
    if (keep >= this.ids.length) return;
    if (keep <= 0) return this.clear();
    const { numKvHeads, headDim } = this.info;
    const oldLen = this.ids.length;
    // Layout [1, kvH, P, D]: each head's P rows are contiguous, so keep the first `keep` rows of every head.
    const cut = (src: Float32Array): Float32Array => {
      const out = new Float32Array(numKvHeads * keep * headDim);
      for (let h = 0; h < numKvHeads; h++) {
        out.set(src.subarray(h * oldLen * headDim, (h * oldLen + keep) * headDim), h * keep * headDim);
      }
      return out;
    };
    this.layers = this.layers.map((l) => ({ key: cut(l.key), value: cut(l.value) }));
    this.ids = this.ids.slice(0, keep);
  }

  /** The past_key_values.* feeds for the held positions (empty [1, kvH, 0, D] tensors when nothing is held). */
  pastFeeds(): Record<string, ort.Tensor> {
    const { numLayers, numKvHeads, headDim } = this.info;
    const dims = [1, numKvHeads, this.ids.length, headDim];
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < numLayers; i++) {
      const layer = this.layers[i];
      feeds[pastKeyName(i)] = new ort.Tensor('float32', layer ? layer.key : new Float32Array(0), dims);
      feeds[pastValueName(i)] = new ort.Tensor('float32', layer ? layer.value : new Float32Array(0), dims);
    }
    return feeds;
  }

  /** Takes the present.* outputs of a run that fed `fedIds` after the held positions. */
  append(fedIds: readonly number[], outputs: ort.InferenceSession.ReturnType): void {
    const layers: LayerKv[] = [];
    const expected = this.info.numKvHeads * (this.ids.length + fedIds.length) * this.info.headDim;
    for (let i = 0; i < this.info.numLayers; i++) {
      const key = outputs[presentKeyName(i)]?.data;
      const value = outputs[presentValueName(i)]?.data;
      if (!(key instanceof Float32Array) || !(value instanceof Float32Array) || key.length !== expected || value.length !== expected) {
        throw new Error(`ONNX model returned no usable ${presentKeyName(i)}/${presentValueName(i)} (expected ${expected} floats)`);
      }
      layers.push({ key, value });
    }
    this.layers = layers;
    this.ids = this.ids.concat(fedIds);
  }
}
