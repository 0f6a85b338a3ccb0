//! The Node-API face of the crate (feature "node"), as server/src/harvest/native.ts calls it.

use std::collections::HashMap;

use napi::bindgen_prelude::Uint32Array;
use napi_derive::napi;

use crate::{gate, minhash};

/// What the JavaScript path would have produced for a plain file (its content is the bytes themselves).
#[napi(object)]
pub struct PlainFile {
    pub sha256: String,
    /// None when the text is too short for near-duplicate detection.
    pub signature: Option<Uint32Array>,
}

#[napi]
pub struct PlainFileScanner {
    gate: gate::SecretGate,
}

#[napi]
impl PlainFileScanner {
    /// `checks`: check name (shapes.rs) → the lower-case keywords whose occurrences get that check.
    #[napi(constructor)]
    pub fn new(checks: HashMap<String, Vec<String>>) -> napi::Result<Self> {
        let mut checks: Vec<(String, Vec<String>)> = checks.into_iter().collect();
        checks.sort(); // the same keyword order, whatever the object's
        let gate = gate::SecretGate::new(&checks).map_err(napi::Error::from_reason)?;
        Ok(Self { gate })
    }

    /// The hash and signature of a plain file, or null when the JavaScript path must handle it.
    #[napi]
    pub fn scan(&self, bytes: &[u8]) -> Option<PlainFile> {
        let (sha256, signature) = crate::scan_plain(&self.gate, bytes)?;
        Some(PlainFile {
            sha256,
            signature: signature.map(|s| Uint32Array::new(s.to_vec())),
        })
    }
}

/// The constants the JavaScript MinHash must share (a test compares them).
#[napi]
pub fn minhash_parameters() -> Vec<u32> {
    vec![
        minhash::SIGNATURE_BINS as u32,
        minhash::SHINGLE_TOKENS,
        minhash::MIN_SHINGLES,
    ]
}

/// The MinHash signature of any valid UTF-8 text (for the equivalence tests), null when too short.
#[napi]
pub fn minhash_signature(text: String) -> Option<Uint32Array> {
    minhash::signature(&text).map(|s| Uint32Array::new(s.to_vec()))
}
