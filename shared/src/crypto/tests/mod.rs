//! Tests of the crypto core that run twice: natively (`cargo test -p shared`) and in headless
//! Chromium (`cargo test -p shared --target wasm32-unknown-unknown`), so the browser build is
//! proven to compute the same bytes. Property tests, which need many cases, live in
//! `shared/tests/` and run natively.

mod golden;
mod published;
mod rng;
mod tamper;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Hex decoding for test vectors.
fn unhex(text: &str) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("valid hex in a test vector")
}
