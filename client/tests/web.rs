//! wasm-bindgen tests of the client in headless Chromium: the app mounts and renders its shell,
//! and the API module turns a relay answer it cannot use into a typed error (the test runner's
//! own server has no `/api/health`, which is exactly the case of a wrong or missing relay).

use client::api::{self, ApiError};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|window| window.document())
        .expect("a document")
}

async fn next_tick() {
    let promise = js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL);
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("resolved");
}

#[wasm_bindgen_test]
async fn the_app_mounts_its_shell() {
    leptos::mount::mount_to_body(client::App);
    next_tick().await;
    let brand = document()
        .query_selector(".topbar .brand")
        .expect("valid selector")
        .expect("the header is rendered");
    assert_eq!(brand.text_content().unwrap_or_default().trim(), "Sealpost");
    let main = document()
        .query_selector("main h1")
        .expect("valid selector")
        .expect("a page heading is rendered");
    assert!(!main.text_content().unwrap_or_default().is_empty());
}

#[wasm_bindgen_test]
async fn a_relay_without_the_api_is_a_typed_error_not_a_panic() {
    let error = api::health()
        .await
        .expect_err("the test server has no /api/health");
    match error {
        ApiError::Unexpected { status } | ApiError::Refused { status, .. } => {
            assert_eq!(status, 404);
        }
        ApiError::Network => panic!("the test server is reachable"),
    }
}

#[wasm_bindgen_test]
fn api_errors_read_as_sentences_for_people() {
    let refused = ApiError::Refused {
        status: 413,
        code: "payload_too_large".to_owned(),
        message: "the request body is larger than 16384 bytes".to_owned(),
    };
    assert_eq!(
        refused.to_string(),
        "the request body is larger than 16384 bytes"
    );
    assert!(
        ApiError::Network
            .to_string()
            .contains("could not be reached")
    );
}

#[wasm_bindgen_test]
fn names_saved_together_are_flat_and_unique() {
    let names = client::save_all::unique_names(
        [
            "a.pdf",
            "A.pdf",
            "a.pdf",
            "../x/y.txt",
            "",
            "..",
            "c:\\evil\u{7}",
            "noext",
            "noext",
        ]
        .into_iter(),
    );
    assert_eq!(
        names,
        [
            "a.pdf",
            "A (2).pdf",
            "a (3).pdf",
            ".._x_y.txt",
            "file",
            "file (2)",
            "c__evil_",
            "noext",
            "noext (2)"
        ]
    );
}
