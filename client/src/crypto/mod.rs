//! Browser-side cryptography. `shared::crypto` is the reference implementation and does
//! everything that is small or has no WebCrypto equivalent (argon2id, HKDF, HMAC, manifests,
//! link wrapping). This module routes the heavy operations through the browser's WebCrypto,
//! which is 6–7× faster than WASM for AES-GCM and generates RSA keys natively without freezing
//! the page: STREAM chunks (`stream`), RSA-OAEP key generation and wrapping (`rsa`) and SHA-256
//! (`sha256`, to recognise a file picked again). Browser
//! tests prove both produce bytes interchangeable with `shared`. argon2id runs in a worker
//! (`kdf`) so the page neither blocks nor keeps its 64 MiB.

pub mod kdf;
pub mod rsa;
pub mod stream;
mod subtle;

pub use subtle::{SubtleError, sha256};
