//! RepoTune's native harvest scan, a Node-API addon. The harvest's per-file work in JavaScript (keyword scan,
//! MinHash, SHA-256 over every character) ran at ~45 MB/s per core, twelve times slower than reading the files;
//! here the common cases — a plain source file that no secret rule could match (gate.rs), or a file left out for
//! its content (decode.rs) — are settled at a few hundred MB/s, on libuv threads for whole batches (batch.rs,
//! pack.rs). Everything else (possible secrets, a BOM or CR, links) still goes through the JavaScript path, which
//! stays the only place where those are decided. Loaded by server/src/harvest/native.ts.

pub mod batch;
mod blockmask;
pub mod decode;
pub mod dedupe;
pub mod gate;
pub mod keywords;
pub mod minhash;
#[cfg(feature = "node")]
mod node;
pub mod open;
pub mod pack;
mod quoted;
pub mod shapes;

use sha2::{Digest, Sha256};

pub type Signature = [u32; minhash::SIGNATURE_BINS];

/// What the native scan makes of a file's bytes.
pub enum Settled {
    /// Kept as it is, no secret rule could match (gate.rs): its hash and signature.
    Plain {
        sha256: [u8; 32],
        signature: Option<Signature>,
    },
    /// Left out for decode::REASONS[reason].
    Excluded(u8),
    /// JavaScript must decide: a possible secret, a BOM or CR.
    Js,
}

pub fn settle(gate: &gate::SecretGate, bytes: &[u8]) -> Settled {
    match decode::decode(bytes) {
        decode::Decoded::Kept(text) if !gate.may_match(bytes) => Settled::Plain {
            sha256: Sha256::digest(bytes).into(),
            signature: minhash::signature(text.as_bytes()),
        },
        decode::Decoded::Excluded(reason) => Settled::Excluded(reason),
        _ => Settled::Js,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|&b| [DIGITS[(b >> 4) as usize] as char, DIGITS[(b & 15) as usize] as char])
        .collect()
}
