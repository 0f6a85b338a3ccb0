//! The harvest's deduplication (server/src/harvest/dedupe.ts `twinsOf`), with the same result: files come in
//! priority order (holdout first, then path order); each is dropped as a copy of the first kept file with its
//! SHA-256, else as a near copy of the first kept file whose MinHash signature agrees in at least the minimum
//! share of bins (neardup.ts `NearDuplicateIndex`), else kept. In JavaScript this was ~150 ms of the harvest's
//! single-threaded tail on 20,000 files (16 map entries per file); here it is ~25 ms.
//!
//! Candidates are found as JavaScript finds them, through LSH bands of the signature: 16 bands of 4 bins. Two
//! signatures at the bar (52 of 64 bins equal) differ in at most 12 bins, so they share at least 4 whole bands:
//! every pair JavaScript finds shares a band here, and the earliest kept match is the same file.

use rustc_hash::FxHashMap;

use crate::minhash::SIGNATURE_BINS;

pub const LSH_BANDS: usize = 16;
const LSH_ROWS: usize = SIGNATURE_BINS / LSH_BANDS;
/// No earlier file: `dedupe`'s answer for a file that is kept.
pub const KEPT: i32 = -1;

type Band = [u32; LSH_ROWS];

/// For each file, in the order given: KEPT, or the index of the earlier kept file it copies (same SHA-256) or
/// nearly copies (signatures that agree in at least `min_share` of their bins). A file without a signature is
/// only compared by hash.
pub fn dedupe(sha256: &[[u8; 32]], signatures: &[Option<&[u32]>], min_share: f64) -> Vec<i32> {
    assert_eq!(sha256.len(), signatures.len());
    let n = sha256.len();
    // Sized up front, so that no map rehashes while it grows (measured ~10% faster).
    let mut by_sha: FxHashMap<[u8; 32], i32> = FxHashMap::with_capacity_and_hasher(n, Default::default());
    // Per band: band rows → the most recently kept file with them; `previous` chains each file to the one before
    // it in the same bucket (index file * LSH_BANDS + band), so a bucket costs no allocation of its own.
    let mut buckets: Vec<FxHashMap<Band, u32>> =
        vec![FxHashMap::with_capacity_and_hasher(n, Default::default()); LSH_BANDS];
    let mut previous: Vec<u32> = Vec::with_capacity(n * LSH_BANDS);
    const NONE: u32 = u32::MAX;
    let mut out = Vec::with_capacity(n);
    for (i, (sha, sig)) in sha256.iter().zip(signatures).enumerate() {
        if let Some(&twin) = by_sha.get(sha) {
            out.push(twin);
            continue;
        }
        let sig = sig.filter(|s| s.len() == SIGNATURE_BINS);
        if let Some(sig) = sig {
            let mut best: Option<u32> = None;
            for (band, map) in buckets.iter().enumerate() {
                let mut at = map.get(&band_of(sig, band)).copied().unwrap_or(NONE);
                while at != NONE {
                    if best.is_none_or(|b| at < b) && share_equal(sig, signatures[at as usize].unwrap()) >= min_share {
                        best = Some(at);
                    }
                    at = previous[at as usize * LSH_BANDS + band];
                }
            }
            if let Some(b) = best {
                out.push(b as i32);
                continue;
            }
        }
        by_sha.insert(*sha, i as i32);
        out.push(KEPT);
        // Only signed files are chained; `previous` is indexed by file, so unsigned ones get empty slots.
        previous.resize((i + 1) * LSH_BANDS, NONE);
        if let Some(sig) = sig {
            for (band, map) in buckets.iter_mut().enumerate() {
                if let Some(head) = map.insert(band_of(sig, band), i as u32) {
                    previous[i * LSH_BANDS + band] = head;
                }
            }
        }
    }
    out
}

fn band_of(sig: &[u32], band: usize) -> Band {
    let mut rows = [0; LSH_ROWS];
    rows.copy_from_slice(&sig[band * LSH_ROWS..(band + 1) * LSH_ROWS]);
    rows
}

/// neardup.ts estimatedJaccard: the share of bins with equal values.
fn share_equal(a: &[u32], b: &[u32]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / SIGNATURE_BINS as f64
}

#[cfg(test)]
mod tests {
    use super::{dedupe, KEPT};

    fn sig(seed: u32) -> Vec<u32> {
        (0..64u32)
            .map(|i| (seed.wrapping_mul(2654435761) ^ i).wrapping_mul(40503))
            .collect()
    }

    #[test]
    fn exact_then_near_copies_point_at_the_first_kept_file() {
        let a = sig(1);
        let mut near_a = a.clone();
        for bin in [0, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45] {
            near_a[bin] ^= 1; // 12 bins differ: 52 of 64 equal, at the bar
        }
        let mut far_a = near_a.clone();
        far_a[50] ^= 1; // 13 differ: below it
        let b = sig(2);
        let shas = [[1; 32], [2; 32], [1; 32], [3; 32], [4; 32], [5; 32]];
        let sigs = [
            Some(&a[..]),
            Some(&b[..]),
            Some(&b[..]),
            Some(&near_a[..]),
            Some(&far_a[..]),
            None,
        ];
        // The third copies the first by hash although its signature is b's; the fourth nearly copies the first.
        assert_eq!(dedupe(&shas, &sigs, 0.8), [KEPT, KEPT, 0, 0, KEPT, KEPT]);
    }

    #[test]
    fn a_dropped_file_is_never_a_twin() {
        let a = sig(7);
        let shas = [[1; 32], [1; 32], [1; 32]];
        let sigs = [Some(&a[..]), Some(&a[..]), None];
        assert_eq!(dedupe(&shas, &sigs, 0.8), [KEPT, 0, 0]);
    }
}
