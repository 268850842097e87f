//! Ciphertext and plaintext as different types. Ciphertext types are what the relay stores and
//! what travels on the wire (base64url in JSON, `Debug` shows the length only); `Plaintext` is
//! what decryption yields, zeroized on drop and never `Serialize`. Also the small AES-256-GCM
//! seal/open used for manifests and wrapped keys: `nonce(12) ‖ ciphertext ‖ tag(16)`, empty
//! associated data.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

macro_rules! ciphertext {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Vec<u8>);

        impl $name {
            pub fn from_bytes(bytes: Vec<u8>) -> Self {
                Self(bytes)
            }

            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            pub fn into_bytes(self) -> Vec<u8> {
                self.0
            }

            pub fn len(&self) -> usize {
                self.0.len()
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({} bytes)"), self.0.len())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                crate::encoding::bytes::serialize(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::encoding::bytes::deserialize(deserializer).map(Self)
            }
        }
    };
}

ciphertext!(
    /// One STREAM chunk of a file: at most 1 MiB of ciphertext plus a 16-byte tag.
    SealedChunk
);
ciphertext!(
    /// A bundle's manifest, sealed under its manifest key.
    SealedManifest
);
ciphertext!(
    /// `K` sealed under a link key.
    LinkWrappedKey
);
ciphertext!(
    /// `K` wrapped to a user's public key with RSA-OAEP-SHA-256.
    UserWrappedKey
);
ciphertext!(
    /// A user's PKCS#8 private key sealed under their wrap key.
    SealedPrivateKey
);

/// Decrypted bytes: zeroized on drop, never serialized.
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({} bytes, ***)", self.0.len())
    }
}

/// Why sealed bytes could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("too short to be sealed data ({0} bytes)")]
    TooShort(usize),
    #[error("authentication failed: wrong key, or the data was altered")]
    Authentication,
}

/// `nonce ‖ AES-256-GCM(key, nonce, plaintext)` with a fresh random nonce.
pub(crate) fn seal(key: &[u8; 32], plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut nonce = [0_u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_with_nonce(key, &nonce, plaintext)
}

pub(crate) fn seal_with_nonce(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(nonce), plaintext)
        .unwrap_or_else(|_| unreachable!("AES-GCM encryption of an in-memory buffer cannot fail"));
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Opens `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn open(key: &[u8; 32], sealed: &[u8]) -> Result<Plaintext, OpenError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::TooShort(sealed.len()));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map(Plaintext::new)
        .map_err(|_| OpenError::Authentication)
}
