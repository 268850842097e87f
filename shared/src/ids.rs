//! Identifiers: 16 random bytes, written as 22 characters of unpadded base64url. Ids are public
//! (they appear in paths such as `/l/<id>`); secrets never live in an id.

use std::fmt;

use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::{self, DecodeError};

/// A random 128-bit identifier of a link, bundle, user, organisation or request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; Id::LEN]);

impl Id {
    pub const LEN: usize = 16;

    /// A fresh random id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0_u8; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Parses the 22-character base64url form.
    pub fn parse(text: &str) -> Result<Self, DecodeError> {
        encoding::decode_array(text).map(Self)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encoding::encode(&self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl std::str::FromStr for Id {
    type Err = DecodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_22_base64url_characters_and_round_trips() {
        let id = Id::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text, "q6urq6urq6urq6urq6urqw");
        assert_eq!(Id::parse(&text), Ok(id));
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            "\"q6urq6urq6urq6urq6urqw\""
        );
        assert!(Id::parse("q6urq6urq6urq6urq6ur").is_err(), "too short");
    }
}
