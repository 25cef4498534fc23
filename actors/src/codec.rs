//! The wire encoding of parameter vectors exchanged with the VEC POOL.
//!
//! `vecsim_learn` has no `codec` module yet, so the encoding lives here behind two functions;
//! when the learn crate grows its own, these become thin re-exports of it.

/// A parameter vector could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode parameter vector: {0}")]
pub struct CodecError(String);

/// Encodes a flat parameter vector (bincode 2, serde, standard config).
pub fn encode_params(v: &[f32]) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).expect("encoding a Vec<f32> cannot fail")
}

/// Decodes what [`encode_params`] produced.
pub fn decode_params(bytes: &[u8]) -> Result<Vec<f32>, CodecError> {
    bincode::serde::decode_from_slice::<Vec<f32>, _>(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let v = vec![0.0f32, -1.5, 3.25e-7, f32::MAX, f32::MIN_POSITIVE];
        assert_eq!(decode_params(&encode_params(&v)).unwrap(), v);
        assert!(decode_params(&[0xff]).is_err());
    }
}
