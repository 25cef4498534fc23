//! Checkpoint files: one framed, checksummed payload per file.
//!
//! Frame: `MAGIC (8 bytes) | format version u32 | scenario hash u64 | payload length u64 |
//! FNV-1a-64 of the payload u64 | payload`, integers little-endian. A file from another
//! scenario ([`vecsim_core::Scenario::hash`]), cut short, or altered is refused with a typed
//! error before anything is decoded. Files are written to a temporary name and renamed, so a
//! crash mid-write leaves the previous checkpoint intact.

use std::path::{Path, PathBuf};
use vecsim_core::codec::CodecError;

/// First 8 bytes of every checkpoint file; anything else is refused as not a checkpoint.
pub const MAGIC: &[u8; 8] = b"VECSIMCK";
/// Bumped whenever the payload layout changes (or the codec is swapped).
pub const FORMAT_VERSION: u32 = 9;
const HEADER: usize = 8 + 4 + 8 + 8 + 8;

/// Why a checkpoint could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    /// Reading, writing or renaming the file failed.
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    #[error("{0}: not a vecsim checkpoint (bad magic header)")]
    /// The file does not start with [`MAGIC`].
    NotACheckpoint(PathBuf),
    #[error("{path}: checkpoint format version {found}, this build reads version {expected}")]
    /// Written with another [`FORMAT_VERSION`].
    Version {
        /// The checkpoint file.
        path: PathBuf,
        /// Format version in the file's header.
        found: u32,
        /// Format version this build reads.
        expected: u32,
    },
    #[error(
        "{path}: checkpoint was trained on another scenario (hash {found:016x}, this scenario is {expected:016x})"
    )]
    /// Trained on a scenario with another [`vecsim_core::Scenario::hash`].
    OtherScenario {
        /// The checkpoint file.
        path: PathBuf,
        /// Scenario hash in the file's header.
        found: u64,
        /// Hash of the scenario being loaded into.
        expected: u64,
    },
    #[error("{path}: truncated checkpoint ({got} of {expected} bytes)")]
    /// The file is shorter than its header says.
    Truncated {
        /// The checkpoint file.
        path: PathBuf,
        /// Bytes the file should hold: the header, or header plus the payload length it states.
        expected: u64,
        /// Bytes actually in the file.
        got: u64,
    },
    #[error("{path}: corrupt checkpoint (checksum mismatch)")]
    /// The payload's FNV-1a-64 checksum does not match the header's.
    Corrupt {
        /// The checkpoint file.
        path: PathBuf,
    },
    #[error("{}: invalid checkpoint: {field}", path.display())]
    /// The payload decodes but a shape or length does not fit the scenario and options (the
    /// field is named, e.g. `learners[2].agent.critic: ...`).
    Invalid {
        /// The checkpoint file.
        path: PathBuf,
        /// The field at fault and why.
        field: String,
    },
    #[error("{path}: cannot decode checkpoint payload: {source}")]
    /// The framing is sound but the payload does not decode.
    Decode {
        /// The checkpoint file.
        path: PathBuf,
        /// The codec's error.
        source: CodecError,
    },
}

/// FNV-1a 64-bit: stable and dependency-free; detects accidental corruption (not tampering).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Frames `payload` for scenario `hash`.
pub fn frame(hash: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks a frame and returns its payload.
pub fn unframe<'a>(path: &Path, bytes: &'a [u8], expected_hash: u64) -> Result<&'a [u8], CheckpointError> {
    let p = || path.to_path_buf();
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(CheckpointError::NotACheckpoint(p()));
    }
    if bytes.len() < HEADER {
        return Err(CheckpointError::Truncated { path: p(), expected: HEADER as u64, got: bytes.len() as u64 });
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(CheckpointError::Version { path: p(), found: version, expected: FORMAT_VERSION });
    }
    let hash = u64_at(12);
    if hash != expected_hash {
        return Err(CheckpointError::OtherScenario { path: p(), found: hash, expected: expected_hash });
    }
    let len = u64_at(20);
    let sum = u64_at(28);
    let body = &bytes[HEADER..];
    if (body.len() as u64) < len {
        return Err(CheckpointError::Truncated { path: p(), expected: HEADER as u64 + len, got: bytes.len() as u64 });
    }
    if body.len() as u64 > len || fnv1a64(body) != sum {
        return Err(CheckpointError::Corrupt { path: p() });
    }
    Ok(body)
}

/// Writes a framed payload atomically (temporary file, then rename).
pub fn write(path: &Path, hash: u64, payload: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // A temporary name of this process's own: two writers never share one.
    vecsim_core::atomic::write(path, &frame(hash, payload)).map_err(io)
}

/// The cap of [`read`] where no `--max-memory` is given: the default limit, 16 GiB.
pub const DEFAULT_CAP: u64 = 16 << 30;

/// Reads and checks a framed payload, refusing a file of more than `cap` bytes.
pub fn read(path: &Path, expected_hash: u64, cap: u64) -> Result<Vec<u8>, CheckpointError> {
    let bytes = vecsim_core::bounded::read(path, cap, "checkpoints", " (raise --max-memory)")
        .map_err(|e| CheckpointError::Io { path: path.to_path_buf(), source: e.into_io() })?;
    unframe(path, &bytes, expected_hash).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked() {
        let p = Path::new("x.ckpt");
        let f = frame(42, b"hello world");
        assert_eq!(unframe(p, &f, 42).unwrap(), b"hello world");
        assert!(matches!(unframe(p, &f, 43), Err(CheckpointError::OtherScenario { .. })));
        assert!(matches!(unframe(p, &f[..f.len() - 3], 42), Err(CheckpointError::Truncated { .. })));
        assert!(matches!(unframe(p, &f[..10], 42), Err(CheckpointError::Truncated { .. })));
        let mut bad = f.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(unframe(p, &bad, 42), Err(CheckpointError::Corrupt { .. })));
        assert!(matches!(unframe(p, b"PK\x03\x04 not ours", 42), Err(CheckpointError::NotACheckpoint(_))));
    }
}
