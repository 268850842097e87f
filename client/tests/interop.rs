//! WebCrypto and `shared` are interchangeable, in headless Chromium: STREAM chunks encrypted by
//! the browser's AES-GCM decrypt with `shared` and the other way round, byte for byte equal;
//! the browser path detects the same tampering; RSA-OAEP wrapping by WebCrypto unwraps with
//! `shared` and vice versa; keys the browser generates import into `shared`.

use client::crypto::rsa;
use client::crypto::stream::{WebChunkDecryptor, WebChunkEncryptor, WebStreamError};
use js_sys::Uint8Array;
use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, NoncePrefix, OsRng, SealedChunk,
    StreamError, UnwrapError, UserPrivateKey,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const ALICE: &[u8] = include_bytes!("../../shared/src/crypto/tests/fixtures/test-alice-3072.pk8");
const BOB: &[u8] = include_bytes!("../../shared/src/crypto/tests/fixtures/test-bob-3072.pk8");

fn content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 241) as u8).collect()
}

fn pieces(content: &[u8]) -> Vec<&[u8]> {
    if content.is_empty() {
        return vec![&[]];
    }
    content.chunks(CHUNK_SIZE).collect()
}

async fn web_encrypt(key: &BundleKey, prefix: &NoncePrefix, data: &[u8]) -> Vec<SealedChunk> {
    let mut encryptor = WebChunkEncryptor::new(&key.file_key(0), prefix, data.len() as u64)
        .await
        .expect("imports the key");
    let mut out = Vec::new();
    for piece in pieces(data) {
        out.push(encryptor.encrypt_next_bytes(piece).await.expect("encrypts"));
    }
    assert!(encryptor.is_finished());
    out
}

fn shared_encrypt(key: &BundleKey, prefix: &NoncePrefix, data: &[u8]) -> Vec<SealedChunk> {
    let mut encryptor =
        ChunkEncryptor::new(&key.file_key(0), prefix, data.len() as u64).expect("encryptor");
    pieces(data)
        .into_iter()
        .map(|piece| encryptor.encrypt_next(piece).expect("encrypts"))
        .collect()
}

async fn web_decrypt(
    key: &BundleKey,
    prefix: &NoncePrefix,
    size: u64,
    chunks: &[SealedChunk],
) -> Result<Vec<u8>, WebStreamError> {
    let mut decryptor = WebChunkDecryptor::new(&key.file_key(0), prefix, size).await?;
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(decryptor.decrypt_next_bytes(chunk).await?);
    }
    decryptor.finish()?;
    Ok(out)
}

fn shared_decrypt(
    key: &BundleKey,
    prefix: &NoncePrefix,
    size: u64,
    chunks: &[SealedChunk],
) -> Vec<u8> {
    let mut decryptor = ChunkDecryptor::new(&key.file_key(0), prefix, size).expect("decryptor");
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(decryptor.decrypt_next(chunk).expect("decrypts").as_bytes());
    }
    decryptor.finish().expect("complete");
    out
}

#[wasm_bindgen_test]
async fn webcrypto_stream_chunks_equal_shared_chunks_in_both_directions() {
    for size in [0, 5, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 77] {
        let key = BundleKey::generate(&mut OsRng);
        let prefix = NoncePrefix::generate(&mut OsRng);
        let data = content(size);
        let by_browser = web_encrypt(&key, &prefix, &data).await;
        let by_shared = shared_encrypt(&key, &prefix, &data);
        assert_eq!(
            by_browser, by_shared,
            "identical ciphertext for {size} bytes"
        );
        assert_eq!(
            shared_decrypt(&key, &prefix, size as u64, &by_browser),
            data
        );
        assert_eq!(
            web_decrypt(&key, &prefix, size as u64, &by_shared)
                .await
                .expect("decrypts"),
            data
        );
    }
}

#[wasm_bindgen_test]
async fn the_webcrypto_path_detects_tampering_and_truncation() {
    let key = BundleKey::generate(&mut OsRng);
    let prefix = NoncePrefix::generate(&mut OsRng);
    let size = 2 * CHUNK_SIZE + 3;
    let mut chunks = shared_encrypt(&key, &prefix, &content(size));

    let truncated = web_decrypt(&key, &prefix, size as u64, &chunks[..2]).await;
    assert_eq!(
        truncated,
        Err(WebStreamError::Stream(StreamError::Truncated {
            received: 2,
            expected: 3
        }))
    );

    let mut bytes = chunks[1].as_bytes().to_vec();
    bytes[4242] ^= 0x10;
    chunks[1] = SealedChunk::from_bytes(bytes);
    assert_eq!(
        web_decrypt(&key, &prefix, size as u64, &chunks).await,
        Err(WebStreamError::Stream(StreamError::Tampered { index: 1 }))
    );

    let other = BundleKey::generate(&mut OsRng);
    let chunks = shared_encrypt(&key, &prefix, &content(size));
    assert_eq!(
        web_decrypt(&other, &prefix, size as u64, &chunks).await,
        Err(WebStreamError::Stream(StreamError::Tampered { index: 0 }))
    );
}

#[wasm_bindgen_test]
async fn chunks_can_stay_in_javascript_memory() {
    let key = BundleKey::generate(&mut OsRng);
    let prefix = NoncePrefix::generate(&mut OsRng);
    let data = content(1000);
    let mut encryptor = WebChunkEncryptor::new(&key.file_key(0), &prefix, 1000)
        .await
        .expect("key");
    let sealed = encryptor
        .encrypt_next(&Uint8Array::from(data.as_slice()))
        .await
        .expect("encrypts");
    assert_eq!(sealed.length(), 1016);
    let mut decryptor = WebChunkDecryptor::new(&key.file_key(0), &prefix, 1000)
        .await
        .expect("key");
    let plain = decryptor.decrypt_next(&sealed).await.expect("decrypts");
    assert_eq!(plain.to_vec(), data);
    decryptor.finish().expect("complete");
}

#[wasm_bindgen_test]
async fn rsa_oaep_wrapping_is_interchangeable_with_shared() {
    let alice = UserPrivateKey::from_pkcs8_der(ALICE).expect("alice");
    let bob = UserPrivateKey::from_pkcs8_der(BOB).expect("bob");
    let alice_public = alice.public_key().expect("public");
    let key = BundleKey::generate(&mut OsRng);

    let by_browser = rsa::wrap(&alice_public, &key).await.expect("browser wraps");
    assert_eq!(
        alice
            .unwrap(&by_browser)
            .expect("shared unwraps")
            .dangerously_expose_bytes(),
        key.dangerously_expose_bytes()
    );
    let by_shared = alice_public.wrap(&key, &mut OsRng).expect("shared wraps");
    assert_eq!(
        rsa::unwrap(&alice, &by_shared)
            .await
            .expect("browser unwraps")
            .dangerously_expose_bytes(),
        key.dangerously_expose_bytes()
    );
    assert!(matches!(
        rsa::unwrap(&bob, &by_shared).await,
        Err(rsa::WebRsaError::Unwrap(UnwrapError::WrongKeyOrTampered))
    ));
}

#[wasm_bindgen_test]
async fn keys_generated_by_the_browser_work_with_shared() {
    let private = rsa::generate_private_key()
        .await
        .expect("the browser generates a key");
    let public = private.public_key().expect("public");
    assert_eq!(public.bits(), 3072);
    let key = BundleKey::generate(&mut OsRng);
    let wrapped = public.wrap(&key, &mut OsRng).expect("wraps");
    assert_eq!(
        private
            .unwrap(&wrapped)
            .expect("unwraps")
            .dangerously_expose_bytes(),
        key.dangerously_expose_bytes()
    );
}
