//! Binary-to-text encoding of the wire: unpadded base64url everywhere (PROTOCOL.md), with serde
//! helpers for byte fields and typed decode errors. It does not know what the bytes mean.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a base64url text could not be turned into the bytes expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not unpadded base64url")]
    NotBase64Url,
    #[error("expected {expected} bytes, got {got}")]
    WrongLength { expected: usize, got: usize },
}

/// Unpadded base64url of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes of an unpadded base64url text (padding, `+` and `/` are refused).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| DecodeError::NotBase64Url)
}

/// Exactly `N` bytes from an unpadded base64url text.
pub fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], DecodeError> {
    let bytes = decode(text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| DecodeError::WrongLength {
        expected: N,
        got: bytes.len(),
    })
}

/// `#[serde(with = "crate::encoding::bytes")]` for `Vec<u8>` fields.
pub mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "crate::encoding::array")]` for `[u8; N]` fields.
pub mod array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode_array(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_padding_and_standard_alphabet() {
        let bytes = [0xfb_u8, 0xff, 0x00, 0x10];
        let text = encode(&bytes);
        assert_eq!(text, "-_8AEA");
        assert_eq!(decode(&text).expect("decodes"), bytes);
        assert_eq!(decode("-_8AEA=="), Err(DecodeError::NotBase64Url));
        assert_eq!(decode("+/8AEA"), Err(DecodeError::NotBase64Url));
        assert_eq!(
            decode_array::<3>(&text),
            Err(DecodeError::WrongLength {
                expected: 3,
                got: 4
            })
        );
    }
}
