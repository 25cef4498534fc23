//! Reading input files through a size cap: the one way every crate of the project reads a file
//! a user names (scenarios, slot JSON, cookies, cluster files, CSVs, traces, checkpoints).
//!
//! A file is read until its cap and no further, so `/dev/zero`, a FIFO or a gzip bomb costs at
//! most the cap in memory and never hangs on an endless source. For compressed traces the cap
//! applies to the *decompressed* bytes ([`Capped`] wraps the decoder), since that is what gets
//! parsed and held.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Cap of a scenario file: the largest bundled one is under 2 KiB.
pub const SCENARIO_CAP: u64 = 1 << 20;
/// Cap of a `vecsim slot` JSON document (a slot of many thousand tasks fits).
pub const SLOT_JSON_CAP: u64 = 16 << 20;
/// Cap of a cluster cookie file: a secret is some tens of bytes.
pub const COOKIE_CAP: u64 = 4 << 10;
/// Cap of a CSV that `plot` or `experiment` reads back (a `slots.csv` of millions of slots fits).
pub const TABLE_CAP: u64 = 512 << 20;
/// Cap of a cluster file (`--cluster`): a few lines per node.
pub const CLUSTER_FILE_CAP: u64 = 1 << 20;

/// Bytes that a `--max-memory` of `gib` GiB allows an input file to have: the whole budget (a
/// file that alone is larger than the memory a run may use cannot be run within it).
pub fn cap_from_gib(gib: f64) -> u64 {
    let b = gib * (1u64 << 30) as f64;
    if b.is_finite() && b > 0.0 {
        b.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Why a capped read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file (decompressed, for a compressed one) is larger than its cap.
    #[error("{}: larger than the {} limit for {what}{hint}", path.display(), human(*cap))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What the file is (`scenario`, `cookie file`...).
        what: &'static str,
        /// The cap, bytes.
        cap: u64,
        /// How to raise the cap, if it can be (e.g. ` (raise --max-memory)`).
        hint: &'static str,
    },
}

impl ReadError {
    /// As an `io::Error` (for error types that hold one, with the path beside it): the I/O
    /// error itself, or `InvalidData` saying which limit was passed.
    pub fn into_io(self) -> io::Error {
        match self {
            ReadError::Io { source, .. } => source,
            ReadError::TooLarge { cap, what, hint, .. } => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than the {} limit for {what}{hint}", human(cap)),
            ),
        }
    }

    /// The I/O error kind, when the read itself failed (e.g. `NotFound`).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ReadError::Io { source, .. } => Some(source.kind()),
            ReadError::TooLarge { .. } => None,
        }
    }
}

/// `1048576` → `1.0 MiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// The marker inside an `io::Error` that a [`Capped`] reader went past its cap.
#[derive(Debug, thiserror::Error)]
#[error("larger than the {} limit", human(*.0))]
pub struct OverCap(pub u64);

/// A reader that fails with [`OverCap`] (inside an `io::Error` of kind `InvalidData`) once more
/// than `cap` bytes have come through it.
#[derive(Debug)]
pub struct Capped<R> {
    inner: R,
    cap: u64,
    seen: u64,
}

impl<R: Read> Capped<R> {
    /// Wraps `inner`, allowing at most `cap` bytes.
    pub fn new(inner: R, cap: u64) -> Capped<R> {
        Capped { inner, cap, seen: 0 }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for at most one byte past the cap: getting it proves the source is too large.
        let room = (self.cap - self.seen.min(self.cap)).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.seen += n as u64;
        if self.seen > self.cap {
            return Err(io::Error::new(io::ErrorKind::InvalidData, OverCap(self.cap)));
        }
        Ok(n)
    }
}

/// Whether `e` is a [`Capped`] reader's "over the cap".
pub fn is_over_cap(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<OverCap>())
}

/// Turns an I/O error of reading `path` into a [`ReadError`], recognising [`OverCap`].
pub fn read_error(path: &Path, what: &'static str, hint: &'static str, e: io::Error) -> ReadError {
    match e.get_ref().and_then(|i| i.downcast_ref::<OverCap>()) {
        Some(OverCap(cap)) => ReadError::TooLarge { path: path.to_path_buf(), what, cap: *cap, hint },
        None => ReadError::Io { path: path.to_path_buf(), source: e },
    }
}

/// Opens `path` and wraps it in a [`Capped`] reader of `cap` bytes.
pub fn open(path: &Path, cap: u64) -> io::Result<Capped<std::fs::File>> {
    Ok(Capped::new(std::fs::File::open(path)?, cap))
}

/// Reads the whole of `path`, refusing it past `cap` bytes; `what` names the kind of file in
/// the error and `hint` says how to raise the cap (or is empty).
pub fn read(path: &Path, cap: u64, what: &'static str, hint: &'static str) -> Result<Vec<u8>, ReadError> {
    let mut r = open(path, cap).map_err(|e| read_error(path, what, hint, e))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(|e| read_error(path, what, hint, e))?;
    Ok(out)
}

/// [`read`], as UTF-8 text (invalid UTF-8 is an `InvalidData` I/O error, naming the file).
pub fn read_to_string(path: &Path, cap: u64, what: &'static str, hint: &'static str) -> Result<String, ReadError> {
    let bytes = read(path, cap, what, hint)?;
    String::from_utf8(bytes).map_err(|e| ReadError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {}", e.utf8_error())),
    })
}

/// Reads all of `r` (standard input) through a cap; `name` labels errors (e.g. `-`).
pub fn read_reader_to_string(
    r: impl Read,
    cap: u64,
    name: &Path,
    what: &'static str,
    hint: &'static str,
) -> Result<String, ReadError> {
    let mut s = String::new();
    Capped::new(r, cap).read_to_string(&mut s).map_err(|e| read_error(name, what, hint, e))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_source_stops_at_the_cap() {
        let e = read(Path::new("/dev/zero"), 1000, "scenario", "").unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { cap: 1000, what: "scenario", .. }), "{e}");
        assert_eq!(e.to_string(), "/dev/zero: larger than the 1000 B limit for scenario");
    }

    #[test]
    fn a_file_at_the_cap_is_read_whole_and_one_byte_more_is_refused() {
        let dir = std::env::temp_dir().join(format!("vecsim-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert_eq!(read(&p, 2048, "x", "").unwrap().len(), 2048);
        assert!(matches!(read(&p, 2047, "x", " (raise it)"), Err(ReadError::TooLarge { cap: 2047, .. })));
        assert!(read_to_string(&p, 4096, "x", "").unwrap().chars().all(|c| c == 'a'));
        let missing = read(&dir.join("nope"), 10, "x", "").unwrap_err();
        assert_eq!(missing.io_kind(), Some(io::ErrorKind::NotFound));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_decompressed_stream_is_counted_not_the_compressed_one() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'x'; 1 << 20]).unwrap();
        let packed = gz.finish().unwrap();
        assert!(packed.len() < 4096, "{}", packed.len());
        let mut out = Vec::new();
        let e = Capped::new(flate2::read::GzDecoder::new(&packed[..]), 100_000).read_to_end(&mut out).unwrap_err();
        assert!(is_over_cap(&e));
        assert!(out.len() <= 100_001);
    }

    #[test]
    fn caps_follow_the_memory_limit() {
        assert_eq!(cap_from_gib(1.0), 1 << 30);
        assert_eq!(cap_from_gib(0.5), 1 << 29);
        assert_eq!(human(1 << 20), "1.0 MiB");
    }
}
