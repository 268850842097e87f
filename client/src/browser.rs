//! Small helpers over the browser's event loop. Nothing here touches the network or secrets.

use wasm_bindgen_futures::JsFuture;

/// Lets the browser paint (e.g. a progress message) before a short synchronous computation
/// such as argon2id starts.
pub async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}
