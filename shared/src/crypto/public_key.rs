//! Public-key wrapping: RSA-OAEP with SHA-256 (3072-bit keys; 2048 to 4096 accepted on import),
//! public keys as SPKI DER, private keys as PKCS#8 DER, and fingerprints (SHA-256 of the SPKI
//! DER, shown as 8 groups of 4 hex digits) with the canonical digest of a set of them. The
//! relay uses only the public half; private keys exist only in their owner's browser.

use rand_core::CryptoRngCore;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::BundleKey;
use super::sealed::UserWrappedKey;

/// Size of the keys Sealpost generates.
pub const RSA_BITS: usize = 3072;
const ACCEPTED_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// Why a key could not be imported, generated or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a valid RSA public key in SPKI DER")]
    InvalidPublicKey,
    #[error("not a valid RSA private key in PKCS#8 DER")]
    InvalidPrivateKey,
    #[error("RSA keys of {0} bits are not accepted (2048 to 4096)")]
    UnsupportedSize(usize),
    #[error("RSA key generation failed")]
    Generation,
    #[error("RSA-OAEP encryption failed")]
    Wrap,
}

/// Why a wrapped bundle key could not be unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    #[error("the wrapped key does not open with this key (wrong key, or it was altered)")]
    WrongKeyOrTampered,
    #[error("the unwrapped key has the wrong length")]
    WrongLength,
}

/// A user's public key (public: `Clone`, comparable).
#[derive(Clone, PartialEq, Eq)]
pub struct UserPublicKey {
    spki_der: Vec<u8>,
    key: RsaPublicKey,
}

impl std::fmt::Debug for UserPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserPublicKey({})", self.fingerprint())
    }
}

impl UserPublicKey {
    /// Imports an SPKI DER public key of 2048 to 4096 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = RsaPublicKey::from_public_key_der(der).map_err(|_| KeyError::InvalidPublicKey)?;
        // The modulus's exact bit length: `size() * 8` rounds up to whole bytes, so a 2041-bit
        // modulus would pass as 2048.
        let bits = key.n().bits();
        if !ACCEPTED_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedSize(bits));
        }
        Ok(Self {
            spki_der: der.to_vec(),
            key,
        })
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha256::digest(&self.spki_der).into())
    }

    /// `RSA-OAEP-SHA-256(public_key, K)`.
    pub fn wrap(
        &self,
        bundle_key: &BundleKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<UserWrappedKey, KeyError> {
        self.key
            .encrypt(
                rng,
                Oaep::new::<Sha256>(),
                bundle_key.dangerously_expose_bytes(),
            )
            .map(UserWrappedKey::from_bytes)
            .map_err(|_| KeyError::Wrap)
    }
}

/// A user's private key: not `Clone`, `***` in `Debug`, zeroized on drop (by `rsa`).
pub struct UserPrivateKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for UserPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserPrivateKey(***)")
    }
}

impl UserPrivateKey {
    /// A fresh key pair of `RSA_BITS` bits (natively; browsers use WebCrypto, see the client).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::new(rng, RSA_BITS).map_err(|_| KeyError::Generation)?;
        Ok(Self { key })
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPrivateKey)?;
        let bits = key.n().bits();
        if !ACCEPTED_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedSize(bits));
        }
        Ok(Self { key })
    }

    /// The PKCS#8 DER encoding, for sealing under the wrap key. Never store it in the clear.
    pub fn dangerously_to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.key
            .to_pkcs8_der()
            .map(|document| Zeroizing::new(document.as_bytes().to_vec()))
            .map_err(|_| KeyError::InvalidPrivateKey)
    }

    pub fn public_key(&self) -> Result<UserPublicKey, KeyError> {
        let public = self.key.to_public_key();
        let der = public
            .to_public_key_der()
            .map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(UserPublicKey {
            spki_der: der.as_bytes().to_vec(),
            key: public,
        })
    }

    /// Unwraps a bundle key wrapped to this key's public half.
    pub fn unwrap(&self, wrapped: &UserWrappedKey) -> Result<BundleKey, UnwrapError> {
        let bytes = Zeroizing::new(
            self.key
                .decrypt(Oaep::new::<Sha256>(), wrapped.as_bytes())
                .map_err(|_| UnwrapError::WrongKeyOrTampered)?,
        );
        BundleKey::dangerously_from_slice(&bytes).map_err(|_| UnwrapError::WrongLength)
    }
}

/// SHA-256 of a public key's SPKI DER.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The canonical digest of a set of keys (what a request link's fragment carries):
    /// SHA-256 of the fingerprints sorted bytewise, duplicates removed, concatenated.
    pub fn set_digest(fingerprints: &[Fingerprint]) -> [u8; 32] {
        let mut sorted = fingerprints.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut hasher = Sha256::new();
        for fingerprint in &sorted {
            hasher.update(fingerprint.0);
        }
        hasher.finalize().into()
    }
}

/// `abcd 0123 …`: the first 16 bytes as 8 groups of 4 hex digits, for people to compare.
impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, pair) in self.0[..16].chunks(2).enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{:02x}{:02x}", pair[0], pair[1])?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::encoding::array::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::encoding::array::deserialize(deserializer).map(Self)
    }
}
