//! The corpus pack (server/src/harvest/store.ts `packStore`: one append-only file of texts) written from several
//! threads: each append reserves its range with one atomic add, then writes there, so the native scan's threads
//! and the JavaScript thread append side by side without a lock and every range stays where it was reported.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Pack {
    file: File,
    end: AtomicU64,
}

impl Pack {
    /// The pack file at `path`, opened for writing; appends start at its current end.
    pub fn open(path: &Path) -> io::Result<Pack> {
        let file = File::options().write(true).open(path)?;
        let end = file.metadata()?.len();
        Ok(Pack {
            file,
            end: AtomicU64::new(end),
        })
    }

    /// Writes `bytes` at the end; returns where they start.
    pub fn append(&self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        write_all_at(&self.file, bytes, at)?;
        Ok(at)
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, at)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut at: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        let n = file.seek_write(bytes, at)?;
        bytes = &bytes[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Pack;
    use std::sync::Arc;

    #[test]
    fn appends_from_threads_land_where_reported() {
        let path = std::env::temp_dir().join(format!("repotune-pack-test-{}", std::process::id()));
        std::fs::write(&path, b"head").unwrap();
        let pack = Arc::new(Pack::open(&path).unwrap());
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let pack = pack.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| (pack.append(&[t; 7][..1 + i % 7]).unwrap(), t, 1 + i % 7))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let written = std::fs::read(&path).unwrap_or_default();
        let all: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(written.starts_with(b"head"));
        assert_eq!(bytes.len(), 4 + all.iter().map(|(_, _, n)| n).sum::<usize>());
        for (at, t, n) in all {
            assert_eq!(&bytes[at as usize..at as usize + n], &vec![t; n][..]);
        }
    }
}
