//! The reference implementation of PROTOCOL.md (see `shared/PROTOCOL.md`): key types, key
//! derivation, STREAM file encryption, manifests, key wrapping to links and to users, account
//! key sealing and delivery receipts. RustCrypto crates only; nothing hand-rolled; randomness is
//! always passed in (`rand_core::OsRng` in production, fixed sources in golden tests).

pub mod account;
pub mod kdf;
pub mod keys;
pub mod link;
pub mod manifest;
pub mod otp;
pub mod public_key;
pub mod receipt;
pub mod request;
pub mod sealed;
pub mod stream;

pub use kdf::{KdfParams, LinkKeys, derive_link_keys, derive_master_key, link_keys_from_otp_key};
pub use keys::{
    AuthKey, BundleKey, FileKey, LinkKey, LinkProof, LinkSecret, ManifestKey, MasterKey, OtpKey,
    Passphrase, ReceiptKey, RequestSecret, WrapKey,
};
pub use link::LinkVerifier;
pub use manifest::{MANIFEST_V1, MANIFEST_VERSION, Manifest, ManifestError, ManifestFile};
pub use public_key::{Fingerprint, KeyError, UnwrapError, UserPrivateKey, UserPublicKey};
pub use request::{RequestFragment, RequestKeys, derive_request_keys};
pub use sealed::{
    LinkWrappedKey, OpenError, Plaintext, SealedChunk, SealedManifest, SealedPrivateKey,
    UserWrappedKey,
};
pub use stream::{
    CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, NoncePrefix, PADDING_FLOOR, StreamCursor,
    StreamError, StreamLayout, padded_size, padme,
};

/// The operating system's (or browser's) cryptographic random source.
pub use rand_core::OsRng;

#[cfg(test)]
mod tests;
