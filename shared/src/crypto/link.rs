//! Secure Send links: wrapping `K` under a link key, and the verifier with which the relay
//! checks an opening without ever learning the proof's preimage, the OTP or the link secret.
//! Derivation of the link key and proof is in `kdf::derive_link_keys`.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keys::{BundleKey, LinkKey, LinkProof};
use super::public_key::UnwrapError;
use super::sealed::{self, LinkWrappedKey, OpenError};

impl LinkKey {
    /// `AES-256-GCM(link_key, K)` with a random nonce.
    pub fn wrap(&self, bundle_key: &BundleKey, rng: &mut impl CryptoRngCore) -> LinkWrappedKey {
        LinkWrappedKey::from_bytes(sealed::seal(
            self.dangerously_expose_bytes(),
            bundle_key.dangerously_expose_bytes(),
            rng,
        ))
    }

    /// Recovers `K`; a wrong OTP or link secret yields a wrong link key and fails here.
    pub fn unwrap(&self, wrapped: &LinkWrappedKey) -> Result<BundleKey, UnwrapError> {
        let plain =
            sealed::open(self.dangerously_expose_bytes(), wrapped.as_bytes()).map_err(|error| {
                match error {
                    OpenError::TooShort(_) | OpenError::Authentication => {
                        UnwrapError::WrongKeyOrTampered
                    }
                }
            })?;
        BundleKey::dangerously_from_slice(plain.as_bytes()).map_err(|_| UnwrapError::WrongLength)
    }
}

impl LinkProof {
    /// `SHA-256(proof)`: what the relay stores instead of the proof.
    pub fn verifier(&self) -> LinkVerifier {
        LinkVerifier(Sha256::digest(self.dangerously_expose_bytes()).into())
    }
}

/// `SHA-256(proof)`, stored by the relay (public: knowing it does not open the link).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LinkVerifier([u8; 32]);

impl LinkVerifier {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `proof` (as received, any length) hashes to this verifier, compared in
    /// constant time.
    pub fn matches(&self, proof: &[u8]) -> bool {
        let digest = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(proof)));
        bool::from(digest.ct_eq(&self.0))
    }
}

impl std::fmt::Debug for LinkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkVerifier(..)")
    }
}

impl Serialize for LinkVerifier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::encoding::array::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for LinkVerifier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::encoding::array::deserialize(deserializer).map(Self)
    }
}
