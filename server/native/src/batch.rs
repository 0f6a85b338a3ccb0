//! Reading and scanning a batch of a repository's files off the JavaScript thread: each file is read the way
//! server/src/harvest/read.ts reads it (no link followed, nothing past the size limit) and settled here when it is
//! plain (gate.rs), or left out for a reason decided exactly as JavaScript would (decode.rs). Anything else — a
//! link, a folder, an oversized or unreadable file, a possible secret, a BOM or CR — comes back as `Js`, and
//! JavaScript reads and decides it itself.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use crate::gate::SecretGate;
use crate::Settled;
use crate::Signature;

pub enum FileScan {
    Plain {
        content: Vec<u8>,
        sha256: [u8; 32],
        signature: Option<Signature>,
    },
    /// Left out for a reason decode.rs decides (an index into decode::REASONS).
    Excluded {
        reason: u8,
        disk_bytes: u64,
    },
    Js,
}

/// The file at `root`/`rel` (a path git listed, `/`-separated), read and scanned.
pub fn scan_file(gate: &SecretGate, root: &Path, rel: &str, max_bytes: u64) -> FileScan {
    let path = root.join(rel);
    let size = match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_file() && meta.len() <= max_bytes => meta.len(),
        _ => return FileScan::Js,
    };
    let Ok(file) = open_no_follow(&path) else {
        return FileScan::Js;
    };
    // Sized from the stat (and one byte more, to see the end): growing from empty copied each file ~twice over.
    let mut content = Vec::with_capacity(size as usize + 1);
    // One byte past the limit tells that the file grew beyond it since the stat.
    if file.take(max_bytes + 1).read_to_end(&mut content).is_err() || content.len() as u64 > max_bytes {
        return FileScan::Js;
    }
    match crate::settle(gate, &content) {
        Settled::Plain { sha256, signature } => FileScan::Plain {
            content,
            sha256,
            signature,
        },
        Settled::Excluded(reason) => FileScan::Excluded {
            reason,
            disk_bytes: content.len() as u64,
        },
        Settled::Js => FileScan::Js,
    }
}

/// Opens a file, refusing a link that replaced it since the lstat above.
#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    File::open(path)
}
