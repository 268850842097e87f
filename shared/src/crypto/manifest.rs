//! The bundle manifest: file names, MIME types, sizes, chunk counts, nonce prefixes and an
//! optional note, serialized as JSON and sealed with AES-256-GCM under
//! `HKDF(K, "sealpost/v1/manifest")`. The relay only ever holds the sealed form; `Debug` of
//! the open form hides names and the note. Opening validates what it found, so a caller can
//! trust every size and count it reads.
//!
//! Version 2 (written now) pads: each file's stream carries `stream_size = padded_size(size)`
//! bytes, the file and then zeros, and the JSON is padded with spaces to a Padmé length of at
//! least 1 KiB, so the relay learns size buckets, not sizes or name lengths. Version 1 bundles
//! (no padding, no `stream_size`) still open.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::keys::BundleKey;
use super::sealed::{self, OpenError, SealedManifest};
use super::stream::{CHUNK_SIZE, NoncePrefix, StreamError, StreamLayout, padded_size, padme};

/// The manifest format version this code writes: padded streams.
pub const MANIFEST_VERSION: u32 = 2;
/// The first version, still opened: streams exactly as long as their files.
pub const MANIFEST_V1: u32 = 1;
/// The sealed JSON is padded to at least this many bytes.
pub const MANIFEST_PADDING_FLOOR: u64 = 1024;
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
    /// The file's own size in bytes.
    pub size: u64,
    /// The chunks of its stream (what `stream_size` implies).
    pub chunks: u32,
    pub nonce_prefix: NoncePrefix,
    /// Bytes the stream carries: `padded_size(size)` in version 2, absent in version 1 (where
    /// the stream is exactly `size` bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_size: Option<u64>,
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
            .field("stream_size", &self.stream_size)
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
    #[error("the manifest is not valid manifest JSON: {0}")]
    Malformed(String),
    #[error("the manifest is invalid: {0}")]
    Invalid(String),
}

impl ManifestFile {
    /// A (version 2) file entry: padded, with the chunk count its padded size implies and a
    /// fresh nonce prefix.
    pub fn new(
        name: String,
        mime: String,
        size: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, ManifestError> {
        let stream_size = padded_size(size);
        let layout = StreamLayout::for_size(stream_size)
            .map_err(|e| ManifestError::Invalid(e.to_string()))?;
        Ok(Self {
            name,
            mime,
            size,
            chunks: layout.chunk_count(),
            nonce_prefix: NoncePrefix::generate(rng),
            stream_size: Some(stream_size),
        })
    }

    /// Bytes the file's stream carries (its size, padded in version 2).
    pub fn stream_size(&self) -> u64 {
        self.stream_size.unwrap_or(self.size)
    }

    /// The chunk schedule of the file's stream.
    pub fn layout(&self) -> Result<StreamLayout, ManifestError> {
        StreamLayout::for_size(self.stream_size())
            .map_err(|e| ManifestError::Invalid(e.to_string()))
    }

    /// Bytes of the file itself in stream chunk `index`; the rest of that chunk is padding.
    pub fn content_len(&self, index: u32) -> usize {
        let start = u64::from(index) * CHUNK_SIZE as u64;
        // At most CHUNK_SIZE, so it fits in usize.
        usize::try_from(self.size.saturating_sub(start).min(CHUNK_SIZE as u64))
            .unwrap_or(CHUNK_SIZE)
    }

    /// The plaintext of stream chunk `index`: `content` (the file's `content_len(index)` bytes
    /// for that chunk) followed by zeros up to the chunk's length.
    pub fn pad_chunk(&self, index: u32, content: &[u8]) -> Result<Zeroizing<Vec<u8>>, StreamError> {
        let length = self
            .layout()
            .map_err(|_| StreamError::TooLarge(self.stream_size()))?
            .plaintext_len(index);
        let expected = self.content_len(index);
        if content.len() != expected {
            return Err(StreamError::WrongPlaintextLength {
                index,
                expected,
                got: content.len(),
            });
        }
        let mut plaintext = Zeroizing::new(Vec::with_capacity(length));
        plaintext.extend_from_slice(content);
        plaintext.resize(length, 0);
        Ok(plaintext)
    }

    /// The file's bytes in the decrypted chunk `index`, after checking that everything past
    /// the end of the file is zero (so a stream has one meaning, whoever made it).
    pub fn strip_padding<'a>(&self, index: u32, chunk: &'a [u8]) -> Result<&'a [u8], StreamError> {
        let keep = self.content_len(index).min(chunk.len());
        let (content, padding) = chunk.split_at(keep);
        if padding.iter().any(|&byte| byte != 0) {
            return Err(StreamError::BadPadding { index });
        }
        Ok(content)
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
        if self.version != MANIFEST_VERSION && self.version != MANIFEST_V1 {
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
            let padded = self.version == MANIFEST_VERSION;
            if file.stream_size != padded.then(|| padded_size(file.size)) {
                return invalid(format!(
                    "file {index}: the stream size must be the padded size in version 2 and absent in version 1"
                ));
            }
            if file.chunks != file.layout()?.chunk_count() {
                return invalid(format!("file {index}: chunk count does not match its size"));
            }
        }
        Ok(())
    }

    /// Seals the manifest under `HKDF(K, "sealpost/v1/manifest")` with a random nonce; in
    /// version 2 the JSON is first padded with spaces (which JSON ignores) to
    /// `padme(max(length, 1 KiB))` bytes.
    pub fn seal(
        &self,
        bundle_key: &BundleKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SealedManifest, ManifestError> {
        self.validate()?;
        let json = Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| ManifestError::Malformed(e.to_string()))?,
        );
        let length = if self.version == MANIFEST_VERSION {
            let padded = padme((json.len() as u64).max(MANIFEST_PADDING_FLOOR));
            usize::try_from(padded).map_err(|e| ManifestError::Invalid(e.to_string()))?
        } else {
            json.len()
        };
        // Allocated once at its final length, so no unzeroized copy is left behind.
        let mut padded = Zeroizing::new(Vec::with_capacity(length));
        padded.extend_from_slice(&json);
        padded.resize(length, b' ');
        let key = bundle_key.manifest_key();
        Ok(SealedManifest::from_bytes(sealed::seal(
            key.dangerously_expose_bytes(),
            &padded,
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
