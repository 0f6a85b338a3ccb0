//! The Node-API face of the crate (feature "node"), as server/src/harvest/native.ts calls it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer, Int32Array, Uint32Array, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;

use crate::batch::{self, FileScan};
use crate::{gate, minhash, open, pack, Signature};

/// What the JavaScript path would have produced for a plain file (its content is the bytes themselves).
#[napi(object)]
pub struct PlainFile {
    pub sha256: String,
    /// None when the text is too short for near-duplicate detection.
    pub signature: Option<Uint32Array>,
}

/// What `scanFiles` settled, per path in the order given; a few arrays per batch rather than objects per file.
#[napi(object)]
pub struct ScannedBatch {
    /// 0: JavaScript must read and decide the file; 1: settled, too short for a signature; 2: settled, signed;
    /// EXCLUDED + r: left out for exclusionReasons()[r].
    pub status: Buffer,
    /// 32 bytes per path: the SHA-256 of a settled file's bytes.
    pub sha256: Buffer,
    /// SIGNATURE_BINS values per path: a signed file's MinHash signature.
    pub signatures: Uint32Array,
    /// Per path: a settled file's length in bytes.
    pub lengths: Vec<u32>,
    /// With a pack: where each settled file's bytes were appended (else 0).
    pub offsets: Vec<f64>,
    /// Without a pack: each settled file's bytes (else null).
    pub contents: Option<Vec<Option<Buffer>>>,
}

/// `ScannedBatch.status` of a file left out: this plus the index of its reason.
const EXCLUDED: u8 = 16;

/// The exclusion reasons `scanFiles` decides, in the order of their status codes.
#[napi]
pub fn exclusion_reasons() -> Vec<String> {
    crate::decode::REASONS.iter().map(|r| r.to_string()).collect()
}

/// The corpus pack, shared by the JavaScript store and the native scan (pack.rs).
#[napi]
pub struct PackWriter {
    pack: Arc<pack::Pack>,
}

#[napi]
impl PackWriter {
    /// Opens the pack at `path` (created by the store); appends start at its end.
    #[napi(constructor)]
    pub fn new(path: String) -> napi::Result<Self> {
        let pack = pack::Pack::open(std::path::Path::new(&path))
            .map_err(|e| napi::Error::from_reason(format!("{path}: {e}")))?;
        Ok(Self { pack: Arc::new(pack) })
    }

    /// Appends `bytes`; returns their offset.
    #[napi]
    pub fn append(&self, bytes: &[u8]) -> napi::Result<f64> {
        self.pack
            .append(bytes)
            .map(|at| at as f64)
            .map_err(|e| napi::Error::from_reason(e.to_string()))
    }
}

#[napi]
pub struct PlainFileScanner {
    gate: Arc<gate::SecretGate>,
}

pub struct ScanFiles {
    gate: Arc<gate::SecretGate>,
    root: PathBuf,
    paths: Vec<String>,
    max_bytes: u64,
    pack: Option<Arc<pack::Pack>>,
}

/// One file's result on the libuv thread: settled bytes go to the pack there, when there is one.
pub enum Scanned {
    Js,
    Excluded {
        reason: u8,
        disk_bytes: u64,
    },
    Settled {
        sha256: [u8; 32],
        signature: Option<Signature>,
        length: u32,
        offset: u64,
        content: Option<Vec<u8>>,
    },
}

impl Task for ScanFiles {
    type Output = Vec<Scanned>;
    type JsValue = ScannedBatch;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let pack_error = |e: std::io::Error| napi::Error::from_reason(format!("writing the corpus pack: {e}"));
        let mut gathered = self.pack.as_deref().map(pack::Gathered::new);
        let root = open::Root::new(&self.root);
        let mut out = Vec::with_capacity(self.paths.len());
        for rel in &self.paths {
            // With a pack, each file is read to the end of the batch's gathered texts; else into its own buffer.
            let mut own = Vec::new();
            let buf = gathered.as_mut().map_or(&mut own, |g| g.buffer());
            let start = buf.len();
            out.push(match batch::scan_file(&self.gate, &root, rel, self.max_bytes, buf) {
                FileScan::Js => Scanned::Js,
                FileScan::Excluded { reason, disk_bytes } => Scanned::Excluded { reason, disk_bytes },
                FileScan::Plain { sha256, signature } => {
                    let length = (buf.len() - start) as u32;
                    match &mut gathered {
                        // The offset is the text's index among the gathered ones until they are written.
                        Some(g) => Scanned::Settled {
                            sha256,
                            signature,
                            length,
                            offset: g.keep_from(start).map_err(pack_error)? as u64,
                            content: None,
                        },
                        None => Scanned::Settled {
                            sha256,
                            signature,
                            length,
                            offset: 0,
                            content: Some(own),
                        },
                    }
                }
            });
        }
        if let Some(g) = gathered {
            let placed = g.finish().map_err(pack_error)?;
            for scanned in &mut out {
                if let Scanned::Settled { offset, .. } = scanned {
                    *offset = placed[*offset as usize];
                }
            }
        }
        Ok(out)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let n = output.len();
        let (mut status, mut sha, mut sigs) =
            (vec![0u8; n], vec![0u8; n * 32], vec![0u32; n * minhash::SIGNATURE_BINS]);
        let (mut lengths, mut offsets) = (vec![0u32; n], vec![0f64; n]);
        let mut contents: Vec<Option<Buffer>> = Vec::with_capacity(n);
        for (i, scanned) in output.into_iter().enumerate() {
            match scanned {
                Scanned::Js => contents.push(None),
                Scanned::Excluded { reason, disk_bytes } => {
                    (status[i], lengths[i]) = (EXCLUDED + reason, disk_bytes as u32);
                    contents.push(None);
                }
                Scanned::Settled {
                    sha256,
                    signature,
                    length,
                    offset,
                    content,
                } => {
                    status[i] = if signature.is_some() { 2 } else { 1 };
                    sha[i * 32..(i + 1) * 32].copy_from_slice(&sha256);
                    if let Some(s) = signature {
                        sigs[i * minhash::SIGNATURE_BINS..(i + 1) * minhash::SIGNATURE_BINS].copy_from_slice(&s);
                    }
                    (lengths[i], offsets[i]) = (length, offset as f64);
                    contents.push(content.map(Buffer::from));
                }
            }
        }
        Ok(ScannedBatch {
            status: status.into(),
            sha256: sha.into(),
            signatures: Uint32Array::new(sigs),
            lengths,
            offsets,
            contents: if self.pack.is_some() { None } else { Some(contents) },
        })
    }
}

#[napi]
impl PlainFileScanner {
    /// `checks`: check name (shapes.rs) → the lower-case keywords whose occurrences get that check.
    #[napi(constructor)]
    pub fn new(checks: HashMap<String, Vec<String>>) -> napi::Result<Self> {
        let mut checks: Vec<(String, Vec<String>)> = checks.into_iter().collect();
        checks.sort(); // the same keyword order, whatever the object's
        let gate = gate::SecretGate::new(&checks).map_err(napi::Error::from_reason)?;
        Ok(Self { gate: Arc::new(gate) })
    }

    /// Reads and scans `paths` (relative to `root`) on a libuv thread (batch.rs); settled files' bytes go to
    /// `pack` when given, else come back.
    #[napi(ts_return_type = "Promise<ScannedBatch>")]
    pub fn scan_files(
        &self,
        root: String,
        paths: Vec<String>,
        max_bytes: f64,
        pack: Option<&PackWriter>,
    ) -> AsyncTask<ScanFiles> {
        AsyncTask::new(ScanFiles {
            gate: self.gate.clone(),
            root: PathBuf::from(root),
            paths,
            max_bytes: max_bytes as u64,
            pack: pack.map(|p| p.pack.clone()),
        })
    }

    /// The hash and signature of a plain file, or null when the JavaScript path must handle it.
    #[napi]
    pub fn scan(&self, bytes: &[u8]) -> Option<PlainFile> {
        let crate::Settled::Plain { sha256, signature } = crate::settle(&self.gate, bytes) else {
            return None;
        };
        Some(PlainFile {
            sha256: crate::hex(&sha256),
            signature: signature.map(|s| Uint32Array::new(s.to_vec())),
        })
    }
}

/// What this build offers JavaScript: server/src/harvest/native.ts NATIVE_INTERFACE_VERSION must equal it, else
/// the addon is not used. Raise both together when a function, a check name, a batch layout or what a result means
/// changes (3: MinHash over words only; 4: minhashSignature takes bytes; 5: refusesLinkedFolders), so that an addon
/// left from an older build (a checkout built without cargo keeps its old dist/) falls back to JavaScript instead of
/// failing or signing files differently.
pub const INTERFACE_VERSION: u32 = 5;

/// Whether `scanFiles` refuses to read through a link in any folder of a path (open.rs): JavaScript then need not
/// check the folders itself before handing paths over.
#[napi]
pub fn refuses_linked_folders() -> bool {
    open::refuses_linked_folders()
}

#[napi]
pub fn interface_version() -> u32 {
    INTERFACE_VERSION
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

/// The MinHash signature of a text's UTF-8 bytes, null when too short.
#[napi]
pub fn minhash_signature(bytes: Uint8Array) -> Option<Uint32Array> {
    minhash::signature(&bytes).map(|s| Uint32Array::new(s.to_vec()))
}

/// server/src/harvest/dedupe.ts `twinsOf`'s decisions (dedupe.rs) for files in priority order: 32 bytes of SHA-256
/// and SIGNATURE_BINS signature values per file, `signed[i]` 0 where file i has no signature. Per file: -1 kept,
/// else the index of the earlier kept file it copies or nearly copies (`min_share` of the bins equal).
#[napi]
pub fn dedupe(sha256: &[u8], signatures: Uint32Array, signed: &[u8], min_share: f64) -> napi::Result<Int32Array> {
    let n = signed.len();
    if sha256.len() != n * 32 || signatures.len() != n * minhash::SIGNATURE_BINS {
        return Err(napi::Error::from_reason(format!(
            "dedupe: {n} files need {} hash bytes and {} signature values (got {} and {})",
            n * 32,
            n * minhash::SIGNATURE_BINS,
            sha256.len(),
            signatures.len()
        )));
    }
    let hashes: Vec<[u8; 32]> = sha256
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    let sigs: Vec<Option<&[u32]>> = signatures
        .chunks_exact(minhash::SIGNATURE_BINS)
        .zip(signed)
        .map(|(s, &has)| (has != 0).then_some(s))
        .collect();
    Ok(Int32Array::new(crate::dedupe::dedupe(&hashes, &sigs, min_share)))
}
