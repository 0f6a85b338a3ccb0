//! Reading and scanning a batch of a repository's files off the JavaScript thread: each file is read the way
//! server/src/harvest/read.ts reads it (no link followed, nothing past the size limit) and settled here when it is
//! plain (gate.rs), or left out for a reason decided exactly as JavaScript would (decode.rs). Anything else — a
//! link, a folder, an oversized or unreadable file, a possible secret, a BOM or CR — comes back as `Js`, and
//! JavaScript reads and decides it itself.

use std::io::Read;

use crate::gate::SecretGate;
use crate::open::Root;
use crate::Settled;
use crate::Signature;

pub enum FileScan {
    /// Kept: its bytes are what `scan_file` appended to the buffer.
    Plain {
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

/// The file at `rel` below `root` (a path git listed, `/`-separated), read and scanned. Its bytes are appended to
/// `buf` and stay there when the file is Plain (read straight to where they are kept: a batch's texts gather in one
/// buffer for the pack, pack.rs); otherwise `buf` is left as it was.
pub fn scan_file(gate: &SecretGate, root: &Root, rel: &str, max_bytes: u64, buf: &mut Vec<u8>) -> FileScan {
    let start = buf.len();
    let scan = read_and_settle(gate, root, rel, max_bytes, buf, start);
    if !matches!(scan, FileScan::Plain { .. }) {
        buf.truncate(start);
    }
    scan
}

fn read_and_settle(
    gate: &SecretGate,
    root: &Root,
    rel: &str,
    max_bytes: u64,
    buf: &mut Vec<u8>,
    start: usize,
) -> FileScan {
    // Opened without following a link (open.rs), then checked by its own metadata (cheaper than a second walk of
    // the path): a link, a folder or anything but a regular file goes to JavaScript.
    let Ok(file) = root.open_file(rel) else {
        return FileScan::Js;
    };
    let size = match file.metadata() {
        Ok(meta) if meta.file_type().is_file() && meta.len() <= max_bytes => meta.len(),
        _ => return FileScan::Js,
    };
    // Sized from the metadata (and one byte more, to see the end): growing as it reads copied each file ~twice.
    buf.reserve(size as usize + 1);
    // One byte past the limit tells that the file grew beyond it since the metadata was read.
    if file.take(max_bytes + 1).read_to_end(buf).is_err() || (buf.len() - start) as u64 > max_bytes {
        return FileScan::Js;
    }
    let content = &buf[start..];
    match crate::settle(gate, content) {
        Settled::Plain { sha256, signature } => FileScan::Plain { sha256, signature },
        Settled::Excluded(reason) => FileScan::Excluded {
            reason,
            disk_bytes: content.len() as u64,
        },
        Settled::Js => FileScan::Js,
    }
}
