//! Opening a repository's files for the native scan without following a link anywhere in their paths, as
//! server/src/harvest/read.ts reads them: a tracked file under a folder that was replaced by a link (perhaps to
//! outside the workspace) must not be read here. On Linux one openat2 call refuses a link in any component, so
//! JavaScript need not lstat every folder first (30 ms for the 1,201 folders of a real Python corpus) and no folder
//! can become a link between such a check and the open. Elsewhere, or where openat2 is unavailable (Linux < 5.6, a
//! seccomp filter), the file itself is opened without following a link and JavaScript checks the folders.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A repository root, opened once per batch.
pub struct Root {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    dir: Option<std::os::fd::OwnedFd>,
}

impl Root {
    pub fn new(path: &Path) -> Root {
        Root {
            path: path.to_path_buf(),
            #[cfg(target_os = "linux")]
            dir: linux::open_dir(path),
        }
    }

    /// The file at `rel` (git's `/`-separated path below the root), opened for reading: never through a link,
    /// never waiting on a FIFO. An error sends the file to JavaScript, which finds out what it is.
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        #[cfg(target_os = "linux")]
        if refuses_linked_folders() {
            // Without the root's descriptor nothing can be opened safely: JavaScript skipped its folder checks.
            let dir = self
                .dir
                .as_ref()
                .ok_or_else(|| io::Error::other("the root folder could not be opened"))?;
            return linux::open_beneath(dir, rel);
        }
        open_no_follow(&self.path.join(rel))
    }
}

/// Whether `Root::open_file` refuses a link in any folder of the path, so that JavaScript need not check them.
pub fn refuses_linked_folders() -> bool {
    #[cfg(target_os = "linux")]
    {
        static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *PROBED.get_or_init(linux::openat2_works)
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    // No O_NOFOLLOW: the link check is on the path's own metadata, before opening.
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(io::Error::other("a link"));
    }
    File::open(path)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn openat2(dir: libc::c_int, path: &CString, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
        // SAFETY: open_how is plain data; the kernel reads `size` bytes of it and the NUL-terminated path.
        let fd = unsafe {
            let mut how: libc::open_how = std::mem::zeroed();
            how.flags = (flags | libc::O_CLOEXEC) as u64;
            how.resolve = resolve;
            libc::syscall(
                libc::SYS_openat2,
                dir,
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor the call just returned, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
    }

    pub fn openat2_works() -> bool {
        let root = CString::new("/").expect("no NUL");
        openat2(
            libc::AT_FDCWD,
            &root,
            libc::O_PATH | libc::O_DIRECTORY,
            libc::RESOLVE_NO_SYMLINKS,
        )
        .is_ok()
    }

    /// The root folder as a descriptor to open files beneath (the root itself may be reached through a link).
    pub fn open_dir(path: &Path) -> Option<OwnedFd> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        openat2(libc::AT_FDCWD, &path, libc::O_PATH | libc::O_DIRECTORY, 0).ok()
    }

    pub fn open_beneath(dir: &OwnedFd, rel: &str) -> io::Result<File> {
        let rel = CString::new(rel).map_err(io::Error::other)?;
        let resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH;
        let fd = openat2(
            dir.as_raw_fd(),
            &rel,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            resolve,
        )?;
        Ok(File::from(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::{refuses_linked_folders, Root};

    #[cfg(unix)]
    #[test]
    fn opens_files_but_no_link_and_no_fifo_wait() {
        let dir = std::env::temp_dir().join(format!("repotune-open-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/a.ts"), b"a").unwrap();
        std::os::unix::fs::symlink("real", dir.join("linked")).unwrap();
        std::os::unix::fs::symlink("real/a.ts", dir.join("b.ts")).unwrap();
        let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let root = Root::new(&dir);
        assert!(root.open_file("real/a.ts").is_ok());
        assert!(root.open_file("b.ts").is_err(), "a link to a file");
        assert!(
            root.open_file("fifo").is_ok(),
            "opened without waiting for a writer (its metadata says FIFO)"
        );
        let through_folder_link = root.open_file("linked/a.ts");
        std::fs::remove_dir_all(&dir).unwrap();
        // Where openat2 works (Linux ≥ 5.6) a linked folder is refused too; elsewhere JavaScript checks folders.
        assert_eq!(through_folder_link.is_err(), refuses_linked_folders());
        #[cfg(target_os = "linux")]
        assert!(refuses_linked_folders(), "this test machine's kernel has openat2");
    }
}
