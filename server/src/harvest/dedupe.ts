/**
 * Removes exact and near duplicates from the harvested files: one of each group stays. Holdout files come first, so
 * a training file that copies (or nearly copies) a holdout file is the one dropped — a near copy of the holdout in
 * training would leak the evaluation set; otherwise the first in byte-wise path order stays.
 *
 * This runs after every file is scanned, on one thread, so the harvest waits for all of it. For 20,000 files it
 * takes ~60 ms with the native addon (server/native/src/dedupe.rs: ~25 ms, the rest is building its arrays),
 * against ~165 ms for the JavaScript loop below — the reference the addon is tested against, and the path without
 * it — most of which goes to the LSH index's maps.
 */
import { nativeDedupe } from './native';
import { NEAR_DUPLICATE_MIN_JACCARD, NearDuplicateIndex, SIGNATURE_BINS, type Signature } from './neardup';
import type { ExclusionReason } from './types';

export interface Candidate {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly signature: Signature | undefined;
}

/** twinsOf's answer for a file that is kept. */
const KEPT = -1;
const SHA256_BYTES = 32;

export function dedupe(candidates: readonly Candidate[], isHoldout: (c: Candidate) => boolean, useNative = true) {
  const ordered = [...candidates.filter(isHoldout), ...candidates.filter((c) => !isHoldout(c))];
  const twins = twinsOf(ordered, useNative);
  const kept: Candidate[] = [];
  const dropped: { candidate: Candidate; reason: ExclusionReason }[] = [];
  ordered.forEach((c, i) => {
    if (twins[i] === KEPT) {
      kept.push(c);
      return;
    }
    // A twin with the same hash is an exact copy: the near index only finds files whose hash differs.
    const twin = ordered[twins[i]];
    const reason = twin.sha256 === c.sha256 ? 'duplicate' : isHoldout(twin) && !isHoldout(c) ? 'near-duplicate-of-holdout' : 'near-duplicate';
    dropped.push({ candidate: c, reason });
  });
  return { kept, dropped };
}

/**
 * Per file, in the order given: KEPT, or the index of the earlier kept file it copies (same SHA-256), else of the
 * earliest kept file it nearly copies (NearDuplicateIndex). The addon answers the same (test/unit/dedupe.test.ts).
 */
export function twinsOf(ordered: readonly Candidate[], useNative = true): Int32Array {
  const native = useNative ? nativeDedupe() : undefined;
  if (native) {
    const n = ordered.length;
    const sha256 = Buffer.alloc(n * SHA256_BYTES);
    const signatures = new Uint32Array(n * SIGNATURE_BINS);
    const signed = new Uint8Array(n);
    ordered.forEach((c, i) => {
      sha256.write(c.sha256, i * SHA256_BYTES, SHA256_BYTES, 'hex');
      if (c.signature) {
        signatures.set(c.signature, i * SIGNATURE_BINS);
        signed[i] = 1;
      }
    });
    return native(sha256, signatures, signed, NEAR_DUPLICATE_MIN_JACCARD);
  }
  const twins = new Int32Array(ordered.length).fill(KEPT);
  const bySha = new Map<string, number>();
  const near = new NearDuplicateIndex<number>();
  ordered.forEach((c, i) => {
    const twin = bySha.get(c.sha256) ?? (c.signature ? near.findNear(c.signature) : undefined);
    if (twin !== undefined) {
      twins[i] = twin;
      return;
    }
    bySha.set(c.sha256, i);
    if (c.signature) near.add(c.signature, i);
  });
  return twins;
}
