//! STREAM over WebCrypto's AES-256-GCM: the same construction and bytes as
//! `shared::crypto::ChunkEncryptor`/`ChunkDecryptor` (nonces and lengths come from
//! `shared::crypto::StreamLayout`), 6–7× faster in a browser. Chunks stay in JavaScript
//! `Uint8Array`s, so encrypting a file read from disk and uploading it never copies the bytes
//! into WASM memory, whatever the file's size.

use js_sys::Uint8Array;
use shared::crypto::{FileKey, NoncePrefix, SealedChunk, StreamError, StreamLayout};

use super::subtle::{AesKey, SubtleError};

/// Why a chunk could not be encrypted or decrypted in the browser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebStreamError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Subtle(#[from] SubtleError),
}

/// Encrypts one file chunk after chunk through WebCrypto.
#[derive(Debug)]
pub struct WebChunkEncryptor {
    key: AesKey,
    prefix: NoncePrefix,
    layout: StreamLayout,
    next: u32,
}

impl WebChunkEncryptor {
    pub async fn new(
        key: &FileKey,
        prefix: &NoncePrefix,
        size: u64,
    ) -> Result<Self, WebStreamError> {
        let layout = StreamLayout::for_size(size)?;
        let key = AesKey::import(key.dangerously_expose_bytes()).await?;
        Ok(Self {
            key,
            prefix: *prefix,
            layout,
            next: 0,
        })
    }

    pub fn layout(&self) -> &StreamLayout {
        &self.layout
    }

    pub fn next_index(&self) -> u32 {
        self.next
    }

    pub fn is_finished(&self) -> bool {
        self.next == self.layout.chunk_count()
    }

    /// Encrypts the next chunk, held in JavaScript memory.
    pub async fn encrypt_next(
        &mut self,
        plaintext: &Uint8Array,
    ) -> Result<Uint8Array, WebStreamError> {
        let index = self.next;
        if self.is_finished() {
            return Err(StreamError::TooManyChunks {
                expected: self.layout.chunk_count(),
            }
            .into());
        }
        let expected = self.layout.plaintext_len(index);
        let got = plaintext.length() as usize;
        if got != expected {
            return Err(StreamError::WrongPlaintextLength {
                index,
                expected,
                got,
            }
            .into());
        }
        let sealed = self
            .key
            .encrypt(&self.layout.nonce(&self.prefix, index), plaintext)
            .await?;
        self.next += 1;
        Ok(sealed)
    }

    /// Encrypts the next chunk from WASM memory into a `SealedChunk`.
    pub async fn encrypt_next_bytes(
        &mut self,
        plaintext: &[u8],
    ) -> Result<SealedChunk, WebStreamError> {
        let sealed = self.encrypt_next(&Uint8Array::from(plaintext)).await?;
        Ok(SealedChunk::from_bytes(sealed.to_vec()))
    }
}

/// Decrypts one file chunk after chunk, in order, through WebCrypto.
#[derive(Debug)]
pub struct WebChunkDecryptor {
    key: AesKey,
    prefix: NoncePrefix,
    layout: StreamLayout,
    next: u32,
}

impl WebChunkDecryptor {
    /// `size` comes from the (authenticated) manifest.
    pub async fn new(
        key: &FileKey,
        prefix: &NoncePrefix,
        size: u64,
    ) -> Result<Self, WebStreamError> {
        let layout = StreamLayout::for_size(size)?;
        let key = AesKey::import(key.dangerously_expose_bytes()).await?;
        Ok(Self {
            key,
            prefix: *prefix,
            layout,
            next: 0,
        })
    }

    pub fn layout(&self) -> &StreamLayout {
        &self.layout
    }

    /// Decrypts the next chunk; an altered, reordered or foreign chunk is
    /// `StreamError::Tampered`, and the decryptor stays at that chunk.
    pub async fn decrypt_next(
        &mut self,
        sealed: &Uint8Array,
    ) -> Result<Uint8Array, WebStreamError> {
        let index = self.next;
        if index == self.layout.chunk_count() {
            return Err(StreamError::TooManyChunks {
                expected: self.layout.chunk_count(),
            }
            .into());
        }
        let expected = self.layout.sealed_len(index);
        let got = sealed.length() as usize;
        if got != expected {
            return Err(StreamError::WrongChunkLength {
                index,
                expected,
                got,
            }
            .into());
        }
        let plain = self
            .key
            .decrypt(&self.layout.nonce(&self.prefix, index), sealed)
            .await
            .map_err(|_| StreamError::Tampered { index })?;
        self.next += 1;
        Ok(plain)
    }

    pub async fn decrypt_next_bytes(
        &mut self,
        sealed: &SealedChunk,
    ) -> Result<Vec<u8>, WebStreamError> {
        let plain = self
            .decrypt_next(&Uint8Array::from(sealed.as_bytes()))
            .await?;
        Ok(plain.to_vec())
    }

    /// Confirms every chunk arrived.
    pub fn finish(self) -> Result<(), WebStreamError> {
        if self.next == self.layout.chunk_count() {
            Ok(())
        } else {
            Err(StreamError::Truncated {
                received: self.next,
                expected: self.layout.chunk_count(),
            }
            .into())
        }
    }
}
