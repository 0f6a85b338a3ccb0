/**
 * The attention KV cache between decoding steps, and between calls: the ids whose keys/values it holds plus the
 * per-layer keys/values. Keeping it after a call lets the next prompt that starts with the same tokens (typing:
 * completion/stablePrompt.ts keeps everything but the prompt's end still) prefill only its new tail.
 *
 * Memory is allocated once and reused, and ORT writes into it directly (preallocated outputs), instead of
 * returning fresh arrays of the whole cache per token (measured in bench/complete):
 *  - shared (exports with `sharedKvBuffer`, GroupQueryAttention): one buffer per layer's keys and values, of
 *    layout [1, kvH, capacity, D], bound as both past_key_values.* and present.*: the kernel appends the new
 *    positions in place, so a step copies no cache at all, and truncating is just forgetting ids;
 *  - compact (older "concat" exports, whose past must hold exactly P positions): two buffers per layer, the one
 *    the next run reads past_key_values.* from and the one ORT writes present.* into, swapped after each run; both
 *    hold the layout [1, kvH, P, D] in their first kvH*P*D floats.
 */
import * as ort from 'onnxruntime-node';
import { pastKeyName, pastValueName, presentKeyName, presentValueName, type OnnxModelInfo } from './onnxMetadata';

/**
 * Capacity is allocated in multiples of this many positions: the engine reserves a whole request (prompt + new
 * tokens) up front, and the next keystroke's request, a few tokens longer, still fits.
 */
const CAPACITY_STEP_TOKENS = 512;

interface LayerBuffers {
  key: Float32Array;
  value: Float32Array;
}

export class KvCache {
  /** Token ids whose keys/values are held, in position order. */
  private ids: number[] = [];
  /** Per layer: [read, write] buffers of `capacity` positions each. */
  private read: LayerBuffers[] = [];
  private write: LayerBuffers[] = [];
  private capacity = 0;

  constructor(private readonly info: OnnxModelInfo) {}

  get length(): number {
    return this.ids.length;
  }

  /** Forgets the held positions; the buffers stay allocated for the next prompt. */
  clear(): void {
    this.ids = [];
  }

  /** Frees the buffers too (the engine is disposed). */
  release(): void {
    this.ids = [];
    this.read = [];
    this.write = [];
    this.capacity = 0;
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
    if (this.info.sharedKvBuffer) {
      this.ids = this.ids.slice(0, keep); // positions past the ids are simply overwritten by the next run
      return;
    }
    const { numKvHeads, headDim } = this.info;
    const oldLen = this.ids.length;
    // Layout [1, kvH, P, D]: each head's rows are contiguous; moving head h's first `keep` rows down to h*keep
    // never overwrites rows not yet moved (h*keep <= h*oldLen), so it is done in place.
    for (const layer of this.read) {
      for (const buf of [layer.key, layer.value]) {
        for (let h = 1; h < numKvHeads; h++) buf.copyWithin(h * keep * headDim, h * oldLen * headDim, (h * oldLen + keep) * headDim);
      }
    }
    this.ids = this.ids.slice(0, keep);
  }

  /** Makes room for `total` positions, keeping the held ones (growing copies them once). */
  reserve(total: number): void {
    if (total <= this.capacity) return;
    const { numKvHeads, headDim, numLayers, sharedKvBuffer } = this.info;
    const capacity = Math.ceil(total / CAPACITY_STEP_TOKENS) * CAPACITY_STEP_TOKENS;
    const held = this.ids.length;
    const grow = (old: Float32Array | undefined) => {
      const next = new Float32Array(numKvHeads * capacity * headDim);
      if (!old || held === 0) return next;
      if (!sharedKvBuffer) {
        next.set(old.subarray(0, numKvHeads * held * headDim));
        return next;
      }
      // [1, kvH, capacity, D]: each head's rows start at h * capacity, which changes with the capacity.
      for (let h = 0; h < numKvHeads; h++) next.set(old.subarray(h * this.capacity * headDim, (h * this.capacity + held) * headDim), h * capacity * headDim);
      return next;
    };
    const layers = (old: LayerBuffers[]) => Array.from({ length: numLayers }, (_, i) => ({ key: grow(old[i]?.key), value: grow(old[i]?.value) }));
    this.read = layers(this.read);
    this.write = sharedKvBuffer ? this.read : layers(this.write);
    this.capacity = capacity;
  }

  private tensor(buf: Float32Array, positions: number): ort.Tensor {
    const { numKvHeads, headDim } = this.info;
    return new ort.Tensor('float32', buf.subarray(0, numKvHeads * positions * headDim), [1, numKvHeads, positions, headDim]);
  }

  /**
   * The past_key_values.* feeds for the held positions, and the present.* outputs (preallocated) for a run that
   * feeds `newTokens` more.
   */
  bindings(newTokens: number): { feeds: Record<string, ort.Tensor>; fetches: Record<string, ort.Tensor> } {
    const past = this.ids.length;
    this.reserve(past + newTokens);
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor> = {};
    if (this.info.sharedKvBuffer) {
      for (let i = 0; i < this.info.numLayers; i++) {
        const key = this.tensor(this.read[i].key, this.capacity);
        const value = this.tensor(this.read[i].value, this.capacity);
        feeds[pastKeyName(i)] = fetches[presentKeyName(i)] = key;
        feeds[pastValueName(i)] = fetches[presentValueName(i)] = value;
      }
      return { feeds, fetches };
    }
    for (let i = 0; i < this.info.numLayers; i++) {
      feeds[pastKeyName(i)] = this.tensor(this.read[i].key, past);
      feeds[pastValueName(i)] = this.tensor(this.read[i].value, past);
      fetches[presentKeyName(i)] = this.tensor(this.write[i].key, past + newTokens);
      fetches[presentValueName(i)] = this.tensor(this.write[i].value, past + newTokens);
    }
    return { feeds, fetches };
  }

  /** Records a run that fed `fedIds` after the held positions and wrote present.* into the bound outputs. */
  commit(fedIds: readonly number[]): void {
    if (!this.info.sharedKvBuffer) [this.read, this.write] = [this.write, this.read];
    for (const id of fedIds) this.ids.push(id);
  }
}
