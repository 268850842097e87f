//! Account key material: sealing the user's private key under their wrap key (and opening it
//! after log-in or for a password change), and the relay's storage hash of the auth key. The
//! password itself is only ever an input to `kdf::derive_master_key`, in the browser.

use rand_core::CryptoRngCore;

use super::kdf::{self, KdfAlgorithm, KdfError, KdfParams};
use super::keys::{AuthKey, WrapKey};
use super::public_key::{KeyError, UserPrivateKey};
use super::sealed::{self, OpenError, SealedPrivateKey};

/// The relay's argon2id parameters for hashing auth keys (lighter: the auth key is already a
/// 256-bit argon2id output).
pub const SERVER_AUTH_PARAMS: KdfParams = KdfParams {
    alg: KdfAlgorithm::Argon2id,
    m_kib: 19 * 1024,
    t: 2,
    p: 1,
};

/// Why a sealed private key could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateKeyOpenError {
    #[error("the private key does not open: wrong password, or it was altered")]
    WrongPasswordOrTampered,
    #[error("the opened private key is not valid: {0}")]
    Invalid(#[from] KeyError),
}

impl WrapKey {
    /// `AES-256-GCM(wrap_key, private_key_pkcs8)`.
    pub fn seal_private_key(
        &self,
        private_key: &UserPrivateKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SealedPrivateKey, KeyError> {
        let der = private_key.dangerously_to_pkcs8_der()?;
        Ok(SealedPrivateKey::from_bytes(sealed::seal(
            self.dangerously_expose_bytes(),
            &der,
            rng,
        )))
    }

    pub fn open_private_key(
        &self,
        sealed_key: &SealedPrivateKey,
    ) -> Result<UserPrivateKey, PrivateKeyOpenError> {
        let der = sealed::open(self.dangerously_expose_bytes(), sealed_key.as_bytes()).map_err(
            |error| match error {
                OpenError::TooShort(_) | OpenError::Authentication => {
                    PrivateKeyOpenError::WrongPasswordOrTampered
                }
            },
        )?;
        Ok(UserPrivateKey::from_pkcs8_der(der.as_bytes())?)
    }
}

impl AuthKey {
    /// What the relay stores: `argon2id(auth_key, per-user server salt)`.
    pub fn storage_hash(&self, server_salt: &[u8; 16]) -> Result<[u8; 32], KdfError> {
        kdf::argon2id(
            self.dangerously_expose_bytes(),
            server_salt,
            &SERVER_AUTH_PARAMS,
        )
        .map(|hash| *hash)
    }
}
