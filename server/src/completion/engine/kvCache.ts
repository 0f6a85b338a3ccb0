/**
 * The attention KV cache between decoding steps, and between calls: the ids whose keys/values it holds plus the
 * per-layer keys/values. Keeping it after a call lets the next prompt that starts with the same tokens (typing:
 * completion/stablePrompt.ts keeps everything but the prompt's end still) prefill only its new tail.
 *
 * Memory is allocated once and reused, instead of fresh arrays of the whole cache per token (measured in
 * bench/complete). onnxruntime-node reads inputs in place (a 67 MB input costs nothing measurable) but allocates
 * the outputs itself and copies every fetched one back into the caller's array, so what is fetched per run costs:
 *  - shared (exports with `sharedKvBuffer`: attention "buffer", the default, or "gqa"): one buffer per layer's keys
 *    and values, of layout [1, kvH, capacity, D] (the buffer graph's keys: [1, kvH, D, capacity]), fed as
 *    past_key_values.*; truncating is just forgetting ids.
 *    The fed positions' keys/values come back as new_key_values.* ([1, S, kvH * D], `newKeyValues` exports) and
 *    are written into the buffer here. Older gqa exports bind the buffer as present.* too, which onnxruntime-node
 *    serves by copying the whole buffer back after every run (~15 ms of an ~85 ms decode step of the 0.5B shape at
 *    a 2k context);
 *  - compact (older "concat" exports, whose past must hold exactly P positions): two buffers per layer, the one
 *    the next run reads past_key_values.* from and the one ORT writes present.* into, swapped after each run; both
 *    hold the layout [1, kvH, P, D] in their first kvH*P*D floats.
 */
import * as ort from 'onnxruntime-node';
import { newKeyName, newValueName, pastKeyName, pastValueName, presentKeyName, presentValueName, type OnnxModelInfo } from './onnxMetadata';

/**
 * Capacity is allocated in multiples of this many positions (the engine reserves a whole request, prompt + new
 * tokens, up front). Small, because a decoding step reads the whole buffer: the buffer graph attends over every
 * position and masks those past the cached length. With 512, a 2k-token prompt got a 2,560-position buffer, so
 * about a fifth of each step's cache reads were slack; with 64, at most 63 positions are. Growing copies the held
 * positions once per 64 tokens of typing (about 50 MB at 2k for the 0.5B shape, a few ms), which is cheap beside
 * the ~10 MB of slack a step would otherwise read at every token.
 */
export const CAPACITY_STEP_TOKENS = 64;

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
  /** Per layer: the new_key_values.* outputs of the run being bound ([S, kvH, D] each), reused while S repeats. */
  private fresh: LayerBuffers[] = [];
  private freshTokens = 0;

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
    this.fresh = [];
    this.freshTokens = 0;
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
    const grow = (old: Float32Array | undefined, kind: 'key' | 'value') => {
      const next = new Float32Array(numKvHeads * capacity * headDim);
      if (!old || held === 0) return next;
      if (!sharedKvBuffer) {
        next.set(old.subarray(0, numKvHeads * held * headDim));
        return next;
      }
      // Each run of positions starts at row * capacity, which changes with the capacity.
      const { rows, unit } = this.runs(kind);
      for (let r = 0; r < rows; r++) next.set(old.subarray(r * this.capacity * unit, (r * this.capacity + held) * unit), r * capacity * unit);
      return next;
    };
    const layers = (old: LayerBuffers[]) => Array.from({ length: numLayers }, (_, i) => ({ key: grow(old[i]?.key, 'key'), value: grow(old[i]?.value, 'value') }));
    this.read = layers(this.read);
    this.write = sharedKvBuffer ? this.read : layers(this.write);
    this.capacity = capacity;
  }

  /**
   * A shared buffer as runs of positions: [1, kvH, capacity, D] is kvH runs of `capacity` positions of D floats;
   * the buffer graph's keys, [1, kvH, D, capacity] (`keysTransposed`), are kvH * D runs of single floats.
   */
  private runs(kind: 'key' | 'value'): { rows: number; unit: number } {
    const { numKvHeads, headDim, keysTransposed } = this.info;
    return kind === 'key' && keysTransposed ? { rows: numKvHeads * headDim, unit: 1 } : { rows: numKvHeads, unit: headDim };
  }

  private dims(kind: 'key' | 'value', positions: number): number[] {
    const { numKvHeads, headDim, keysTransposed } = this.info;
    return kind === 'key' && keysTransposed ? [1, numKvHeads, headDim, positions] : [1, numKvHeads, positions, headDim];
  }

  /** The first `positions` of each run of a shared buffer, as a dense tensor of that many positions. */
  private compactTensor(buf: Float32Array, kind: 'key' | 'value', positions: number): ort.Tensor {
    const { rows, unit } = this.runs(kind);
    const out = new Float32Array(rows * positions * unit);
    for (let r = 0; r < rows; r++) out.set(buf.subarray(r * this.capacity * unit, (r * this.capacity + positions) * unit), r * positions * unit);
    return new ort.Tensor('float32', out, this.dims(kind, positions));
  }

  private tensor(buf: Float32Array, positions: number, kind: 'key' | 'value' = 'value'): ort.Tensor {
    const { numKvHeads, headDim } = this.info;
    return new ort.Tensor('float32', buf.subarray(0, numKvHeads * positions * headDim), this.dims(kind, positions));
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
      const { numKvHeads, headDim, newKeyValues } = this.info;
      if (newKeyValues && this.freshTokens !== newTokens) {
        const layer = () => new Float32Array(newTokens * numKvHeads * headDim);
        this.fresh = Array.from({ length: this.info.numLayers }, () => ({ key: layer(), value: layer() }));
        this.freshTokens = newTokens;
      }
      // A run of several positions (a prefill chunk) gets the cached positions only, copied out of the buffer: the
      // buffer graph attends over every position it is given, and early in a prefill most of the buffer is unused
      // (the first chunk of a 2k prompt would attend over ~2,500 empty positions). One decoding position gets the
      // buffer as it is: a copy per token would cost about what it saves.
      const compact = newKeyValues && newTokens > 1;
      for (let i = 0; i < this.info.numLayers; i++) {
        const key = compact ? this.compactTensor(this.read[i].key, 'key', past) : this.tensor(this.read[i].key, this.capacity, 'key');
        const value = compact ? this.compactTensor(this.read[i].value, 'value', past) : this.tensor(this.read[i].value, this.capacity);
        feeds[pastKeyName(i)] = key;
        feeds[pastValueName(i)] = value;
        if (newKeyValues) {
          const dims = [1, newTokens, numKvHeads * headDim];
          fetches[newKeyName(i)] = new ort.Tensor('float32', this.fresh[i].key, dims);
          fetches[newValueName(i)] = new ort.Tensor('float32', this.fresh[i].value, dims);
        } else {
          fetches[presentKeyName(i)] = key;
          fetches[presentValueName(i)] = value;
        }
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

  /** Records a run that fed `fedIds` after the held positions (its present.* or new_key_values.* are in the fetches). */
  commit(fedIds: readonly number[]): void {
    if (!this.info.sharedKvBuffer) [this.read, this.write] = [this.write, this.read];
    else if (this.info.newKeyValues) this.writeFresh(fedIds.length);
    for (const id of fedIds) this.ids.push(id);
  }

  /** Copies the run's new_key_values.* ([S, kvH, D]) to positions P..P+S-1 of the buffers. */
  private writeFresh(count: number): void {
    const { numKvHeads, headDim, keysTransposed } = this.info;
    const past = this.ids.length;
    const cap = this.capacity;
    for (let i = 0; i < this.info.numLayers; i++) {
      for (const kind of ['key', 'value'] as const) {
        const from = this.fresh[i][kind];
        const to = this.read[i][kind];
        for (let s = 0; s < count; s++) {
          for (let h = 0; h < numKvHeads; h++) {
            const src = (s * numKvHeads + h) * headDim;
            if (kind === 'key' && keysTransposed) {
              // [kvH, D, capacity]: element d of position p is at (h * D + d) * capacity + p.
              for (let d = 0; d < headDim; d++) to[(h * headDim + d) * cap + past + s] = from[src + d];
            } else {
              to.set(from.subarray(src, src + headDim), (h * cap + past + s) * headDim);
            }
          }
        }
      }
    }
  }
}
