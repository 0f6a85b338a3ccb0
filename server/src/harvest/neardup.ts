/**
 * Near-duplicate detection: MinHash over word shingles with locality-sensitive hashing. A file that is a light
 * edit of another (a copied module, a second config, a near copy of a holdout file) teaches the model nothing new,
 * and a near copy of a holdout file in training would leak the evaluation set.
 *
 * Hand-written rather than a library: the npm MinHash packages are unmaintained and hash every shingle once per
 * permutation. This uses one-permutation hashing (one hash per shingle, binned) with rotation densification, so
 * the cost is one pass over the text — the harvest must stay close to the speed of reading the files.
 */

/** Words per shingle (BigCode's deduplication uses 5-grams too); minhashSignature keeps the window in five locals. */
export const SHINGLE_TOKENS = 5;
/** Signature bins; also the number of LSH rows × bands. */
export const SIGNATURE_BINS = 64;
export const LSH_BANDS = 16;
const LSH_ROWS = SIGNATURE_BINS / LSH_BANDS;
/** Estimated Jaccard similarity of shingle sets at or above which two files are near duplicates. */
export const NEAR_DUPLICATE_MIN_JACCARD = 0.8;
/** Files with fewer shingles are too short for a meaningful estimate: only exact duplicates are caught there. */
export const MIN_SHINGLES = 16;
const EMPTY = 0xffffffff;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const BIN_BITS = Math.log2(SIGNATURE_BINS);

export type Signature = Uint32Array;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 1 for the bytes of words: ASCII letters, digits and _, and every byte of a non-ASCII character (≥ 0x80). */
const WORD_BYTE = Uint8Array.from({ length: 256 }, (_, c) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128 ? 1 : 0,
);
/** One round of a word's hash per four bytes (server/native/src/minhash.rs WORD_MULT). */
const WORD_MULT = 0x2545f491;

/**
 * The MinHash signature of a text's UTF-8 bytes, or undefined when it has fewer than MIN_SHINGLES shingles.
 * Shingles are runs of SHINGLE_TOKENS words; everything that is not a word only separates words (BigCode's
 * near-deduplication of The Stack splits on `[^A-Za-z_0-9]` the same way), so reindented or reformatted copies
 * match. A word's hash is h = (h ^ chunk) * WORD_MULT over its 4-byte little-endian chunks, the last one
 * zero-padded: the native scan (server/native/src/minhash.rs) hashes most words with two 8-byte loads that way.
 * Words only, not punctuation characters as well: fewer shingles per file, and copies that differ in punctuation or
 * layout still match. With the native block scan, the MinHash of 200 MB of generated source went from 449 to 247 ms,
 * of 153 MB of real Python from 645 to 258 ms (best of 7, one thread, same process).
 */
export function minhashSignature(bytes: Uint8Array): Signature | undefined {
  // One loop, the last words in locals, a table for word bytes, one place that adds a shingle: this runs on every
  // harvested byte where the native scan is not built, and this shape was 2× faster than a closure over a ring
  // buffer (measured).
  const sig = new Uint32Array(SIGNATURE_BINS).fill(EMPTY);
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let t4 = 0;
  let words = 0;
  let shingles = 0;
  let word = FNV_OFFSET;
  let chunk = 0;
  let shift = 0;
  let inWord = false;
  const n = bytes.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? bytes[i] : 0; // a zero byte after the text ends its last word
    if (WORD_BYTE[c] === 1) {
      chunk |= c << shift;
      shift += 8;
      if (shift === 32) {
        word = Math.imul(word ^ chunk, WORD_MULT);
        chunk = 0;
        shift = 0;
      }
      inWord = true;
      continue;
    }
    if (!inWord) continue;
    const token = shift > 0 ? Math.imul(word ^ chunk, WORD_MULT) : word;
    word = FNV_OFFSET;
    chunk = 0;
    shift = 0;
    inWord = false;
    const t0 = t1;
    t1 = t2;
    t2 = t3;
    t3 = t4;
    t4 = token;
    if (++words < SHINGLE_TOKENS) continue;
    const h = shingleHash(t0, t1, t2, t3, t4);
    const bin = h & (SIGNATURE_BINS - 1);
    const value = h >>> BIN_BITS;
    if (value < sig[bin]) sig[bin] = value;
    shingles++;
  }
  if (shingles < MIN_SHINGLES) return undefined;
  return densify(sig);
}

function shingleHash(t0: number, t1: number, t2: number, t3: number, t4: number): number {
  let h = FNV_OFFSET;
  h = Math.imul(h ^ t0, 0x9e3779b1);
  h = Math.imul(h ^ t1, 0x9e3779b1);
  h = Math.imul(h ^ t2, 0x9e3779b1);
  h = Math.imul(h ^ t3, 0x9e3779b1);
  return fmix32(Math.imul(h ^ t4, 0x9e3779b1));
}

/** Empty bins borrow the next non-empty bin's value (rotation densification), so signatures of small files compare. */
function densify(sig: Signature): Signature {
  const out = new Uint32Array(sig);
  for (let i = 0; i < SIGNATURE_BINS; i++) {
    if (sig[i] !== EMPTY) continue;
    for (let d = 1; d < SIGNATURE_BINS; d++) {
      const v = sig[(i + d) % SIGNATURE_BINS];
      if (v !== EMPTY) {
        out[i] = (v + d * FNV_PRIME) >>> 0;
        break;
      }
    }
  }
  return out;
}

export function estimatedJaccard(a: Signature, b: Signature): number {
  let same = 0;
  for (let i = 0; i < SIGNATURE_BINS; i++) if (a[i] === b[i]) same++;
  return same / SIGNATURE_BINS;
}

/** An LSH index of signatures: `add` files in priority order, `findNear` asks for the first kept near duplicate. */
export class NearDuplicateIndex<T> {
  /**
   * Per band, band key → the entries in that bucket. Almost every bucket holds one entry (16 per file): a bare
   * index then, an array only on a collision — an array per bucket was most of the harvest's memory at 100k files.
   * Keys are small integers (see bandKey), which V8 stores unboxed.
   */
  private readonly buckets = Array.from({ length: LSH_BANDS }, () => new Map<number, number | number[]>());
  private readonly entries: { sig: Signature; item: T }[] = [];

  /** The earliest added item whose signature is a near duplicate of `sig`, if any. */
  findNear(sig: Signature): T | undefined {
    let best: number | undefined;
    const consider = (idx: number) => {
      if ((best === undefined || idx < best) && estimatedJaccard(sig, this.entries[idx].sig) >= NEAR_DUPLICATE_MIN_JACCARD) best = idx;
    };
    for (let band = 0; band < LSH_BANDS; band++) {
      const bucket = this.buckets[band].get(bandKey(sig, band));
      if (typeof bucket === 'number') consider(bucket);
      else if (bucket) bucket.forEach(consider);
    }
    return best === undefined ? undefined : this.entries[best].item;
  }

  add(sig: Signature, item: T): void {
    const idx = this.entries.push({ sig, item }) - 1;
    for (let band = 0; band < LSH_BANDS; band++) {
      const key = bandKey(sig, band);
      const buckets = this.buckets[band];
      const bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, idx);
      else if (typeof bucket === 'number') buckets.set(key, [bucket, idx]);
      else bucket.push(idx);
    }
  }
}

/**
 * The key of a signature's rows in one band (each band has its own map): a 30-bit hash, so V8 keeps it as a small
 * integer rather than a boxed number. Two unrelated files sharing a key only cost one extra comparison.
 */
function bandKey(sig: Signature, band: number): number {
  let h = 0x811c9dc5;
  for (let r = band * LSH_ROWS; r < (band + 1) * LSH_ROWS; r++) h = Math.imul(h ^ sig[r], 0x01000193);
  return h >> 2;
}
