//! The one place that turns values into bytes and back: parameter vectors exchanged with the
//! VEC POOL and checkpoint payloads.
//!
//! It uses bincode 2 (serde mode, standard config: little-endian, varint lengths). bincode is
//! unmaintained (RUSTSEC-2025-0141); `postcard` is the drop-in alternative with the same serde
//! model. Everything else in the crate calls only [`encode`] / [`decode`], so swapping the format
//! is a change to this file alone (checkpoint files carry a format version to refuse old bytes).

use serde::{de::DeserializeOwned, Serialize};

/// A value that could not be decoded: truncated, corrupt, or of another type.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Serialisation failed; the message is the encoder's.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The bytes are truncated, corrupt or of another type; the message is the decoder's.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The value decoded but this many bytes were left over after it.
    #[error("{0} trailing bytes after the value")]
    Trailing(usize),
}

/// Encodes one value to bytes (bincode 2, standard config).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a whole buffer; bytes left over are an error (a frame must hold exactly one value).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(v)
}

/// A flat parameter vector as sent to and from the VEC POOL.
pub fn encode_params(p: &[f32]) -> Vec<u8> {
    encode(&p).expect("a float vector always encodes")
}

/// Decodes a flat parameter vector written by [`encode_params`].
pub fn decode_params(bytes: &[u8]) -> Result<Vec<f32>, CodecError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_bit_exact_and_truncation_is_refused() {
        let p = vec![0.0f32, -1.5, f32::MIN_POSITIVE, 3.25e7, f32::NAN];
        let b = encode_params(&p);
        let q = decode_params(&b).unwrap();
        assert_eq!(
            p.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            q.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(decode_params(&b[..b.len() - 1]).is_err());
        let mut longer = b.clone();
        longer.push(0);
        assert!(matches!(decode_params(&longer), Err(CodecError::Trailing(1))));
    }
}
