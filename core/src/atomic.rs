//! Output files written whole or not at all, and one writer per output directory.
//!
//! [`write`] puts the bytes in a temporary file of the same directory (unique to the process)
//! and renames it over the target: a reader, or a run killed at any instant, sees the old file
//! or the new one, never a mix or an empty file. [`DirLock`] is a lock file holding the
//! writer's process id: a second writer into the same directory is refused with the holder
//! named; a lock whose process is gone (killed) is taken over.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (same-directory temporary file, flushed, renamed).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The lock file's name in a locked directory.
pub const LOCK_FILE: &str = ".vecsim.lock";

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another live process holds the directory.
    #[error(
        "{} is in use by another vecsim process (pid {pid}, lock file {}): wait for it to finish, or write elsewhere",
        dir.display(),
        lock.display()
    )]
    Held {
        /// The directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The holder's process id.
        pid: u32,
    },
    /// The lock file could not be created or read.
    #[error("cannot lock {}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A held lock on an output directory; dropping it removes the lock file.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

/// Whether process `pid` exists (Linux: its `/proc` entry).
fn alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

impl DirLock {
    /// Locks `dir` (created if missing) for this process.
    pub fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        let io = |source| LockError::Io { dir: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(LOCK_FILE);
        // Two rounds: the second after removing a stale lock (its holder is gone).
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(io)?;
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let text = crate::bounded::read_to_string(&path, 64, "lock files", "").unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if alive(pid) => {
                            return Err(LockError::Held { dir: dir.to_path_buf(), lock: path, pid });
                        }
                        // Dead holder, or a lock file cut short by a kill while it was written:
                        // stale, taken over.
                        _ => match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => return Err(io(e)),
                        },
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        // Lost a race for a stale lock to another process, which now holds it.
        let pid = crate::bounded::read_to_string(&path, 64, "lock files", "")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Err(LockError::Held { dir: dir.to_path_buf(), lock: path, pid })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vecsim-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporary() {
        let d = temp_dir("write");
        let p = d.join("a.csv");
        write(&p, b"one").unwrap();
        write(&p, b"two!").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two!");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_live_holder_is_named_and_a_dead_one_is_taken_over() {
        let d = temp_dir("lock");
        let held = DirLock::acquire(&d).unwrap();
        // This process holds it: a second acquisition (another writer) is refused with our pid.
        match DirLock::acquire(&d) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(held);
        assert!(!d.join(LOCK_FILE).exists());
        // A lock left by a process that no longer exists (pid beyond pid_max) is stale.
        std::fs::write(d.join(LOCK_FILE), "4294967295\n").unwrap();
        let l = DirLock::acquire(&d).unwrap();
        assert_eq!(std::fs::read_to_string(d.join(LOCK_FILE)).unwrap().trim(), std::process::id().to_string());
        drop(l);
        // A lock file cut short (empty) is stale too.
        std::fs::write(d.join(LOCK_FILE), "").unwrap();
        drop(DirLock::acquire(&d).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
