//! Browser benchmarks, in headless Chromium, in one run (`bash .ci/bench-browser`): STREAM
//! encrypt and decrypt of a 256 MiB input through the client's WebCrypto path against raw
//! SubtleCrypto AES-GCM on the same data, the WASM-only path for reference, WASM memory after
//! encrypting 1 GiB in chunks, argon2id at the protocol's parameters, and RSA-3072 key
//! generation p50/p95 with the longest main-thread stall seen meanwhile. It reports numbers; it
//! asserts only that the work was done. Compiled only with `--features browser-bench`.
#![cfg(feature = "browser-bench")]

use std::cell::Cell;
use std::rc::Rc;

use client::crypto::rsa;
use client::crypto::stream::{WebChunkDecryptor, WebChunkEncryptor};
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkEncryptor, KdfParams, NoncePrefix, OsRng, Passphrase,
    derive_master_key,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const STREAM_MIB: u32 = 256;
const MEMORY_MIB: u32 = 1024;

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now())
        .expect("performance.now")
}

fn mib_per_s(mib: u32, ms: f64) -> f64 {
    f64::from(mib) / (ms / 1000.0)
}

fn wasm_memory_mib() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buffer: js_sys::ArrayBuffer = memory.buffer().unchecked_into();
    buffer.byte_length() as f64 / (1024.0 * 1024.0)
}

async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// A 1 MiB chunk of input living in JavaScript memory, as a slice of a `File` would.
fn js_chunk(seed: u8) -> Uint8Array {
    let chunk = Uint8Array::new_with_length(CHUNK_SIZE as u32);
    chunk.fill(seed, 0, CHUNK_SIZE as u32);
    chunk
}

async fn subtle_call(
    method: &str,
    key: &JsValue,
    nonce: &[u8; 12],
    data: &Uint8Array,
) -> Uint8Array {
    let subtle = web_sys::window()
        .expect("window")
        .crypto()
        .expect("crypto")
        .subtle();
    let params = Object::new();
    let _ = Reflect::set(&params, &"name".into(), &"AES-GCM".into());
    let _ = Reflect::set(&params, &"iv".into(), &Uint8Array::from(nonce.as_slice()));
    let function: js_sys::Function = Reflect::get(&subtle, &method.into())
        .expect("method")
        .unchecked_into();
    let promise: Promise = function
        .call3(&subtle, &params, key, data)
        .expect("call")
        .unchecked_into();
    Uint8Array::new(&JsFuture::from(promise).await.expect("resolves"))
}

fn raw_nonce(index: usize) -> [u8; 12] {
    let mut nonce = [0_u8; 12];
    nonce[7..11].copy_from_slice(&(index as u32).to_be_bytes());
    nonce
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn import_raw(key: &[u8; 32]) -> JsValue {
    let subtle = web_sys::window()
        .expect("window")
        .crypto()
        .expect("crypto")
        .subtle();
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    JsFuture::from(
        subtle
            .import_key_with_str(
                "raw",
                &Uint8Array::from(key.as_slice()),
                "AES-GCM",
                false,
                &usages,
            )
            .expect("importKey"),
    )
    .await
    .expect("imports")
}

#[wasm_bindgen_test]
async fn crypto_benchmarks_in_chromium() {
    let input: Vec<Uint8Array> = (0..STREAM_MIB).map(|i| js_chunk(i as u8)).collect();
    let bundle = BundleKey::generate(&mut OsRng);
    let file_key = bundle.file_key(0);
    let prefix = NoncePrefix::generate(&mut OsRng);
    let size = u64::from(STREAM_MIB) * CHUNK_SIZE as u64;

    // Raw SubtleCrypto on the same data (the ceiling) and the client's streaming path
    // (WebCrypto, chunks stay in JavaScript memory), alternated over three rounds so that
    // warm-up and garbage collection do not favour either; the median of each is reported.
    let raw_key = import_raw(file_key.dangerously_expose_bytes()).await;
    let (mut raw_encrypt, mut raw_decrypt, mut ours_encrypt, mut ours_decrypt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let started = now_ms();
        let mut raw_sealed = Vec::new();
        for (index, chunk) in input.iter().enumerate() {
            raw_sealed.push(subtle_call("encrypt", &raw_key, &raw_nonce(index), chunk).await);
        }
        raw_encrypt.push(now_ms() - started);
        let started = now_ms();
        for (index, chunk) in raw_sealed.iter().enumerate() {
            subtle_call("decrypt", &raw_key, &raw_nonce(index), chunk).await;
        }
        raw_decrypt.push(now_ms() - started);
        drop(raw_sealed);

        let started = now_ms();
        let mut encryptor = WebChunkEncryptor::new(&file_key, &prefix, size)
            .await
            .expect("key");
        let mut sealed = Vec::new();
        for chunk in &input {
            sealed.push(encryptor.encrypt_next(chunk).await.expect("encrypts"));
        }
        ours_encrypt.push(now_ms() - started);
        let started = now_ms();
        let mut decryptor = WebChunkDecryptor::new(&file_key, &prefix, size)
            .await
            .expect("key");
        for chunk in &sealed {
            decryptor.decrypt_next(chunk).await.expect("decrypts");
        }
        decryptor.finish().expect("complete");
        ours_decrypt.push(now_ms() - started);
    }
    let (raw_encrypt, raw_decrypt) = (median(&mut raw_encrypt), median(&mut raw_decrypt));
    let (ours_encrypt, ours_decrypt) = (median(&mut ours_encrypt), median(&mut ours_decrypt));

    // The client's path when the bytes live in WASM memory (copies in and out).
    let wasm_input = vec![0x42_u8; CHUNK_SIZE];
    let copy_mib = 64;
    let started = now_ms();
    let mut copying =
        WebChunkEncryptor::new(&file_key, &prefix, u64::from(copy_mib) * CHUNK_SIZE as u64)
            .await
            .expect("key");
    for _ in 0..copy_mib {
        copying
            .encrypt_next_bytes(&wasm_input)
            .await
            .expect("encrypts");
    }
    let copy_encrypt = now_ms() - started;

    // Pure WASM (RustCrypto aes-gcm), for reference.
    let started = now_ms();
    let mut pure = ChunkEncryptor::new(&file_key, &prefix, u64::from(copy_mib) * CHUNK_SIZE as u64)
        .expect("encryptor");
    for _ in 0..copy_mib {
        pure.encrypt_next(&wasm_input).expect("encrypts");
    }
    let pure_encrypt = now_ms() - started;

    console_log!(
        "STREAM {STREAM_MIB} MiB (median of 3 alternated rounds): raw SubtleCrypto encrypt {:.0} MiB/s, decrypt {:.0} MiB/s; \
         Sealpost WebCrypto path encrypt {:.0} MiB/s ({:.0} % of raw), decrypt {:.0} MiB/s ({:.0} % of raw); \
         with copies through WASM memory {:.0} MiB/s; pure WASM aes-gcm {:.0} MiB/s",
        mib_per_s(STREAM_MIB, raw_encrypt),
        mib_per_s(STREAM_MIB, raw_decrypt),
        mib_per_s(STREAM_MIB, ours_encrypt),
        100.0 * raw_encrypt / ours_encrypt,
        mib_per_s(STREAM_MIB, ours_decrypt),
        100.0 * raw_decrypt / ours_decrypt,
        mib_per_s(copy_mib, copy_encrypt),
        mib_per_s(copy_mib, pure_encrypt),
    );
    drop(input);

    // WASM memory after encrypting 1 GiB chunk by chunk (before argon2id, which needs 64 MiB).
    let before = wasm_memory_mib();
    let total = u64::from(MEMORY_MIB) * CHUNK_SIZE as u64;
    let mut encryptor = WebChunkEncryptor::new(&file_key, &prefix, total)
        .await
        .expect("key");
    let started = now_ms();
    for index in 0..MEMORY_MIB {
        let sealed = encryptor
            .encrypt_next(&js_chunk(index as u8))
            .await
            .expect("encrypts");
        assert_eq!(sealed.length() as usize, CHUNK_SIZE + 16);
    }
    assert!(encryptor.is_finished());
    console_log!(
        "1 GiB encrypted in 1 MiB chunks in {:.1} s: WASM memory {before:.1} MiB before, {:.1} MiB after",
        (now_ms() - started) / 1000.0,
        wasm_memory_mib()
    );

    // argon2id in WASM at the protocol's parameters.
    let password = Passphrase::new("correct horse battery staple".to_owned());
    let mut argon = Vec::new();
    for _ in 0..5 {
        let started = now_ms();
        derive_master_key(&password, &[1; 16], &KdfParams::CLIENT_V1).expect("derives");
        argon.push(now_ms() - started);
    }
    argon.sort_by(f64::total_cmp);
    console_log!(
        "argon2id m=64 MiB t=3 p=1 in WASM: median {:.0} ms (min {:.0}, max {:.0}); WASM memory now {:.1} MiB",
        argon[2],
        argon[0],
        argon[4],
        wasm_memory_mib()
    );

    // RSA-3072 key generation through WebCrypto, with a ticker measuring main-thread stalls.
    let running = Rc::new(Cell::new(true));
    let worst_gap = Rc::new(Cell::new(0.0_f64));
    {
        let running = running.clone();
        let worst_gap = worst_gap.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut last = now_ms();
            while running.get() {
                sleep_ms(5).await;
                let now = now_ms();
                worst_gap.set(worst_gap.get().max(now - last));
                last = now;
            }
        });
    }
    let mut keygen = Vec::new();
    for _ in 0..20 {
        let started = now_ms();
        rsa::generate_private_key().await.expect("generates");
        keygen.push(now_ms() - started);
    }
    running.set(false);
    keygen.sort_by(f64::total_cmp);
    console_log!(
        "RSA-3072 keygen via WebCrypto (20 runs): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; \
         longest main-thread gap meanwhile {:.0} ms (timer period 5 ms)",
        keygen[9],
        keygen[18],
        keygen[19],
        worst_gap.get()
    );
}
