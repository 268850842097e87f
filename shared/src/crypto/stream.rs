//! Files under STREAM (Hoang, Reyhanitabar, Rogaway, Vizár) over AES-256-GCM, using
//! `aead::stream::StreamBE32`: nonce = 7-byte prefix ‖ u32be(chunk index) ‖ last-chunk flag.
//! Files are cut into plaintext chunks of exactly `CHUNK_SIZE` bytes (the last one shorter,
//! possibly empty: an empty file is one empty chunk), encrypted and decrypted one chunk at a
//! time, so neither side ever holds a whole file. Reordering, truncation, a chunk of another
//! file or bundle, a flipped bit or a wrong key all fail with a typed error, never with wrong
//! plaintext. `StreamLayout` exposes the schedule (lengths, nonces) so a browser can run the
//! same construction through WebCrypto and stay byte-compatible.
//!
//! A stream carries a file padded with zeros to `padded_size(size)` (Padmé with a 4 KiB floor),
//! so the relay, which sees every chunk's length, learns only the size bucket of a file; the
//! exact size travels in the sealed manifest (version 2, `manifest.rs`).

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::keys::FileKey;
use super::sealed::{Plaintext, SealedChunk, TAG_LEN};

/// Plaintext bytes per chunk: 1 MiB.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Bytes of random nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 7;
/// The smallest padded size: every file of up to 4 KiB looks alike to the relay.
pub const PADDING_FLOOR: u64 = 4096;

/// The size a file of `size` bytes is padded to before encryption: `padme(size)`, at least
/// `PADDING_FLOOR`.
pub fn padded_size(size: u64) -> u64 {
    padme(size.max(PADDING_FLOOR))
}

/// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
/// with PURBs", PETS 2019): a length of `2^E` to `2^(E+1) − 1` is rounded up to a multiple of
/// `2^(E − ⌊log2 E⌋ − 1)`, so only O(log log length) bits of it remain visible, for at most
/// 6.25 % more bytes from 4 KiB to 64 KiB, 3.2 % up to 4 GiB and 1.6 % beyond. A length so
/// large that rounding overflows pads to `u64::MAX`, which no layout accepts.
pub fn padme(length: u64) -> u64 {
    if length < 2 {
        return length;
    }
    let exponent = 63 - length.leading_zeros();
    let exponent_bits = 32 - exponent.leading_zeros();
    let mask = (1_u64 << (exponent - exponent_bits)) - 1;
    length.checked_add(mask).map_or(u64::MAX, |end| end & !mask)
}

/// The random per-file nonce prefix (public; carried in the sealed manifest).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NoncePrefix([u8; NONCE_PREFIX_LEN]);

impl NoncePrefix {
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0_u8; NONCE_PREFIX_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; NONCE_PREFIX_LEN]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; NONCE_PREFIX_LEN] {
        &self.0
    }
}

impl Serialize for NoncePrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::encoding::array::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for NoncePrefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::encoding::array::deserialize(deserializer).map(Self)
    }
}

/// What went wrong with a stream of chunks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("chunk {index} must hold {expected} bytes of plaintext, got {got}")]
    WrongPlaintextLength {
        index: u32,
        expected: usize,
        got: usize,
    },
    #[error("chunk {index} must be {expected} bytes of ciphertext, got {got}")]
    WrongChunkLength {
        index: u32,
        expected: usize,
        got: usize,
    },
    #[error(
        "chunk {index} failed authentication: it was altered, reordered, or belongs to another file or bundle, or the key is wrong"
    )]
    Tampered { index: u32 },
    #[error("the file has only {expected} chunks; another one arrived")]
    TooManyChunks { expected: u32 },
    #[error("the file was truncated: {received} of {expected} chunks arrived")]
    Truncated { received: u32, expected: u32 },
    #[error("a file of {0} bytes is larger than a stream can carry")]
    TooLarge(u64),
    #[error("chunk {index} carries bytes after the end of the file where only zeros may be")]
    BadPadding { index: u32 },
}

/// The chunk schedule of a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLayout {
    size: u64,
    chunks: u32,
}

impl StreamLayout {
    /// `max(1, ceil(size / CHUNK_SIZE))` chunks; the counter is 32 bits.
    pub fn for_size(size: u64) -> Result<Self, StreamError> {
        let chunk = CHUNK_SIZE as u64;
        let chunks = size.div_ceil(chunk).max(1);
        let chunks = u32::try_from(chunks).map_err(|_| StreamError::TooLarge(size))?;
        Ok(Self { size, chunks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn chunk_count(&self) -> u32 {
        self.chunks
    }

    pub fn is_last(&self, index: u32) -> bool {
        index + 1 == self.chunks
    }

    /// Plaintext bytes chunk `index` carries.
    pub fn plaintext_len(&self, index: u32) -> usize {
        if !self.is_last(index) {
            return CHUNK_SIZE;
        }
        let before = u64::from(index) * CHUNK_SIZE as u64;
        // The last chunk holds the rest, at most CHUNK_SIZE, so it fits in usize.
        usize::try_from(self.size - before).unwrap_or(CHUNK_SIZE)
    }

    /// Ciphertext bytes chunk `index` occupies (plaintext plus the tag).
    pub fn sealed_len(&self, index: u32) -> usize {
        self.plaintext_len(index) + TAG_LEN
    }

    /// Total ciphertext bytes of the file.
    pub fn sealed_size(&self) -> u64 {
        self.size + u64::from(self.chunks) * TAG_LEN as u64
    }

    /// The 96-bit AES-GCM nonce of chunk `index`: prefix ‖ u32be(index) ‖ last flag. This is
    /// what `StreamBE32` computes; WebCrypto callers use it directly.
    pub fn nonce(&self, prefix: &NoncePrefix, index: u32) -> [u8; 12] {
        let mut nonce = [0_u8; 12];
        nonce[..NONCE_PREFIX_LEN].copy_from_slice(prefix.as_bytes());
        nonce[NONCE_PREFIX_LEN..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(self.is_last(index));
        nonce
    }
}

/// Where a file's stream stands and the rules every step must follow: chunks in order, each of
/// exactly its expected length, no chunk after the last, and nothing missing at the end. Every
/// encryptor and decryptor (the RustCrypto ones here, the WebCrypto ones in the client) keeps
/// one, so both paths enforce the same rules.
#[derive(Debug, Clone)]
pub struct StreamCursor {
    layout: StreamLayout,
    next: u32,
}

impl StreamCursor {
    pub fn new(size: u64) -> Result<Self, StreamError> {
        Ok(Self {
            layout: StreamLayout::for_size(size)?,
            next: 0,
        })
    }

    /// A cursor at chunk `next` of a stream of `size` bytes, for a download that goes on
    /// after an interruption with the chunks before `next` already decrypted and kept.
    pub fn starting_at(size: u64, next: u32) -> Result<Self, StreamError> {
        let layout = StreamLayout::for_size(size)?;
        if next > layout.chunk_count() {
            return Err(StreamError::TooManyChunks {
                expected: layout.chunk_count(),
            });
        }
        Ok(Self { layout, next })
    }

    pub fn layout(&self) -> &StreamLayout {
        &self.layout
    }

    /// Index of the chunk expected next.
    pub fn next_index(&self) -> u32 {
        self.next
    }

    pub fn is_finished(&self) -> bool {
        self.next == self.layout.chunk_count()
    }

    /// Checks that a plaintext of `len` bytes may be encrypted as the next chunk; gives its
    /// index.
    pub fn check_plaintext(&self, len: usize) -> Result<u32, StreamError> {
        let index = self.check_not_finished()?;
        let expected = self.layout.plaintext_len(index);
        if len != expected {
            return Err(StreamError::WrongPlaintextLength {
                index,
                expected,
                got: len,
            });
        }
        Ok(index)
    }

    /// Checks that a sealed chunk of `len` bytes may be decrypted as the next chunk; gives its
    /// index.
    pub fn check_sealed(&self, len: usize) -> Result<u32, StreamError> {
        let index = self.check_not_finished()?;
        let expected = self.layout.sealed_len(index);
        if len != expected {
            return Err(StreamError::WrongChunkLength {
                index,
                expected,
                got: len,
            });
        }
        Ok(index)
    }

    /// Moves past the chunk just processed.
    pub fn advance(&mut self) {
        self.next += 1;
    }

    /// Confirms every chunk was processed: without this a truncated file would look complete.
    pub fn finish(&self) -> Result<(), StreamError> {
        if self.is_finished() {
            Ok(())
        } else {
            Err(StreamError::Truncated {
                received: self.next,
                expected: self.layout.chunk_count(),
            })
        }
    }

    fn check_not_finished(&self) -> Result<u32, StreamError> {
        if self.is_finished() {
            return Err(StreamError::TooManyChunks {
                expected: self.layout.chunk_count(),
            });
        }
        Ok(self.next)
    }
}

/// Encrypts one file, chunk after chunk.
pub struct ChunkEncryptor {
    stream: StreamBE32<Aes256Gcm>,
    cursor: StreamCursor,
}

impl std::fmt::Debug for ChunkEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkEncryptor")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl ChunkEncryptor {
    pub fn new(key: &FileKey, prefix: &NoncePrefix, size: u64) -> Result<Self, StreamError> {
        Ok(Self {
            stream: stream_for(key, prefix),
            cursor: StreamCursor::new(size)?,
        })
    }

    pub fn layout(&self) -> &StreamLayout {
        self.cursor.layout()
    }

    /// Index of the chunk `encrypt_next` expects.
    pub fn next_index(&self) -> u32 {
        self.cursor.next_index()
    }

    pub fn is_finished(&self) -> bool {
        self.cursor.is_finished()
    }

    /// Encrypts the next chunk; its plaintext must be exactly `layout().plaintext_len(index)`.
    pub fn encrypt_next(&mut self, plaintext: &[u8]) -> Result<SealedChunk, StreamError> {
        let index = self.cursor.check_plaintext(plaintext.len())?;
        let mut buffer = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buffer.extend_from_slice(plaintext);
        self.stream
            .encrypt_in_place(index, self.layout().is_last(index), &[], &mut buffer)
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a 1 MiB buffer cannot fail"));
        self.cursor.advance();
        Ok(SealedChunk::from_bytes(buffer))
    }
}

/// Decrypts one file, chunk after chunk, in order.
pub struct ChunkDecryptor {
    stream: StreamBE32<Aes256Gcm>,
    cursor: StreamCursor,
}

impl std::fmt::Debug for ChunkDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkDecryptor")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl ChunkDecryptor {
    /// `size` comes from the (authenticated) manifest.
    pub fn new(key: &FileKey, prefix: &NoncePrefix, size: u64) -> Result<Self, StreamError> {
        Ok(Self {
            stream: stream_for(key, prefix),
            cursor: StreamCursor::new(size)?,
        })
    }

    /// A decryptor that expects chunk `next` first: the chunks before it were decrypted
    /// earlier (a download resumed). Each chunk's nonce carries its index and the last one its
    /// flag, so a chunk can be neither moved nor dropped across the break.
    pub fn resume_at(
        key: &FileKey,
        prefix: &NoncePrefix,
        size: u64,
        next: u32,
    ) -> Result<Self, StreamError> {
        Ok(Self {
            stream: stream_for(key, prefix),
            cursor: StreamCursor::starting_at(size, next)?,
        })
    }

    pub fn layout(&self) -> &StreamLayout {
        self.cursor.layout()
    }

    pub fn next_index(&self) -> u32 {
        self.cursor.next_index()
    }

    /// Decrypts the next chunk. On error nothing is returned and the decryptor stays at the
    /// same chunk, so a caller may retry with a fresh download of that chunk.
    pub fn decrypt_next(&mut self, sealed: &SealedChunk) -> Result<Plaintext, StreamError> {
        let index = self.cursor.check_sealed(sealed.len())?;
        let mut buffer = sealed.as_bytes().to_vec();
        self.stream
            .decrypt_in_place(index, self.layout().is_last(index), &[], &mut buffer)
            .map_err(|_| StreamError::Tampered { index })?;
        self.cursor.advance();
        Ok(Plaintext::new(buffer))
    }

    /// Confirms every chunk arrived: without this a truncated file would look complete.
    pub fn finish(self) -> Result<(), StreamError> {
        self.cursor.finish()
    }
}

fn stream_for(key: &FileKey, prefix: &NoncePrefix) -> StreamBE32<Aes256Gcm> {
    StreamBE32::new(
        key.dangerously_expose_bytes().into(),
        prefix.as_bytes().into(),
    )
}
