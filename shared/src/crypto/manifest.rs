//! The bundle manifest: file names, MIME types, sizes, chunk counts, nonce prefixes and an
//! optional note, serialized as JSON and sealed with AES-256-GCM under
//! `HKDF(K, "sealpost/v1/manifest")`. The relay only ever holds the sealed form; `Debug` of
//! the open form hides names and the note. Opening validates what it found, so a caller can
//! trust every size and count it reads.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::keys::BundleKey;
use super::sealed::{self, OpenError, SealedManifest};
use super::stream::{NoncePrefix, StreamLayout};

/// The manifest format version this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Most files one bundle may carry.
pub const MAX_FILES: usize = 10_000;
/// Longest file name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest note, in bytes of UTF-8.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// The open manifest of a bundle.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: Vec<ManifestFile>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One file of a bundle. File `i` of `files` is encrypted with `file_key(i)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub chunks: u32,
    pub nonce_prefix: NoncePrefix,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("version", &self.version)
            .field("files", &self.files)
            .field("note", &self.note.as_ref().map(|_| "***"))
            .finish()
    }
}

impl std::fmt::Debug for ManifestFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestFile")
            .field("name", &"***")
            .field("size", &self.size)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

/// Why a manifest could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest failed authentication: wrong key, or it was altered")]
    Tampered,
    #[error("the sealed manifest is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("the manifest is not valid JSON of version {MANIFEST_VERSION}: {0}")]
    Malformed(String),
    #[error("the manifest is invalid: {0}")]
    Invalid(String),
}

impl ManifestFile {
    /// A file entry with the chunk count its size implies and a fresh nonce prefix.
    pub fn new(
        name: String,
        mime: String,
        size: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, ManifestError> {
        let layout =
            StreamLayout::for_size(size).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        Ok(Self {
            name,
            mime,
            size,
            chunks: layout.chunk_count(),
            nonce_prefix: NoncePrefix::generate(rng),
        })
    }

    /// The chunk schedule of this file.
    pub fn layout(&self) -> Result<StreamLayout, ManifestError> {
        StreamLayout::for_size(self.size).map_err(|e| ManifestError::Invalid(e.to_string()))
    }
}

impl Manifest {
    pub fn new(files: Vec<ManifestFile>, note: Option<String>) -> Self {
        Self {
            version: MANIFEST_VERSION,
            files,
            note,
        }
    }

    /// Checks the rules every manifest must follow.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |reason: String| Err(ManifestError::Invalid(reason));
        if self.version != MANIFEST_VERSION {
            return invalid(format!("unknown version {}", self.version));
        }
        if self.files.is_empty() || self.files.len() > MAX_FILES {
            return invalid(format!(
                "a bundle holds 1 to {MAX_FILES} files, not {}",
                self.files.len()
            ));
        }
        if self
            .note
            .as_ref()
            .is_some_and(|note| note.len() > MAX_NOTE_BYTES)
        {
            return invalid(format!("the note is longer than {MAX_NOTE_BYTES} bytes"));
        }
        for (index, file) in self.files.iter().enumerate() {
            if file.name.is_empty() || file.name.len() > MAX_NAME_BYTES {
                return invalid(format!("file {index} has an empty or overlong name"));
            }
            if file.chunks != file.layout()?.chunk_count() {
                return invalid(format!("file {index}: chunk count does not match its size"));
            }
        }
        Ok(())
    }

    /// Seals the manifest under `HKDF(K, "sealpost/v1/manifest")` with a random nonce.
    pub fn seal(
        &self,
        bundle_key: &BundleKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SealedManifest, ManifestError> {
        self.validate()?;
        let json = Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| ManifestError::Malformed(e.to_string()))?,
        );
        let key = bundle_key.manifest_key();
        Ok(SealedManifest::from_bytes(sealed::seal(
            key.dangerously_expose_bytes(),
            &json,
            rng,
        )))
    }

    /// Opens and validates a sealed manifest.
    pub fn open(bundle_key: &BundleKey, sealed: &SealedManifest) -> Result<Self, ManifestError> {
        let key = bundle_key.manifest_key();
        let json =
            sealed::open(key.dangerously_expose_bytes(), sealed.as_bytes()).map_err(|error| {
                match error {
                    OpenError::TooShort(len) => ManifestError::Truncated(len),
                    OpenError::Authentication => ManifestError::Tampered,
                }
            })?;
        let manifest: Manifest = serde_json::from_slice(json.as_bytes())
            .map_err(|e| ManifestError::Malformed(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }
}
