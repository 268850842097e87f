//! The STREAM decryptor never panics and never accepts what it should not. Two properties:
//! (a) arbitrary bytes offered as the chunks of a file are never decrypted under a key that did
//! not produce them; (b) a genuine encryption of the input with one fuzzer-chosen byte changed
//! always fails as `Tampered` at that byte's chunk, and unchanged always round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{
    BundleKey, ChunkDecryptor, ChunkEncryptor, NoncePrefix, SealedChunk, StreamError,
};

const SMALL_CHUNKS_LIMIT: usize = 3 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = BundleKey::dangerously_from_bytes([7; 32]).file_key(0);
    let prefix = NoncePrefix::from_bytes([1; 7]);
    if mode & 1 == 0 {
        // (a) arbitrary chunks: split the input by the layout of a size it names.
        let Some((size_bytes, body)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let size = u64::from(u16::from_be_bytes(*size_bytes));
        let Ok(mut decryptor) = ChunkDecryptor::new(&key, &prefix, size) else {
            return;
        };
        let sealed_len = decryptor.layout().sealed_len(0);
        let chunk = SealedChunk::from_bytes(body.iter().copied().take(sealed_len).collect());
        assert!(
            decryptor.decrypt_next(&chunk).is_err(),
            "forged chunk accepted"
        );
        return;
    }
    // (b) a genuine encryption, then one byte changed at a chosen place.
    let Some((control, plaintext)) = rest.split_first_chunk::<5>() else {
        return;
    };
    if plaintext.len() > SMALL_CHUNKS_LIMIT {
        return;
    }
    let position = u32::from_be_bytes([control[0], control[1], control[2], control[3]]) as usize;
    let mask = control[4];
    let size = plaintext.len() as u64;
    let mut encryptor = ChunkEncryptor::new(&key, &prefix, size).expect("small sizes fit");
    let mut chunks = Vec::new();
    let mut offset = 0;
    while !encryptor.is_finished() {
        let len = encryptor.layout().plaintext_len(encryptor.next_index());
        chunks.push(
            encryptor
                .encrypt_next(&plaintext[offset..offset + len])
                .expect("encrypts"),
        );
        offset += len;
    }
    let total: usize = chunks.iter().map(SealedChunk::len).sum();
    let mut target = position % total;
    let mut index = 0;
    while target >= chunks[index].len() {
        target -= chunks[index].len();
        index += 1;
    }
    let mut bytes = chunks[index].as_bytes().to_vec();
    bytes[target] ^= mask;
    chunks[index] = SealedChunk::from_bytes(bytes);

    let mut decryptor = ChunkDecryptor::new(&key, &prefix, size).expect("decryptor");
    let mut recovered = Vec::new();
    let mut failure = None;
    for chunk in &chunks {
        match decryptor.decrypt_next(chunk) {
            Ok(plain) => recovered.extend_from_slice(plain.as_bytes()),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    if mask == 0 {
        assert!(failure.is_none());
        decryptor.finish().expect("complete");
        assert_eq!(recovered, plaintext);
    } else {
        assert_eq!(
            failure,
            Some(StreamError::Tampered {
                index: index as u32
            })
        );
    }
});
