//! Small helpers over the browser: its event loop, clock, address bar and formatting. Nothing
//! here touches the network; the only secret it handles is the fragment it hands back.

use wasm_bindgen::JsCast as _;
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

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Whether the browser knows it has no network (`navigator.onLine` false). `false` says
/// little: a network may be there while the relay is not.
pub fn is_offline() -> bool {
    web_sys::window().is_some_and(|window| !window.navigator().on_line())
}

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}

/// Reads the address's fragment once and removes it from the address bar and history, so a
/// secret in it is neither bookmarked nor shown over a shoulder (it never reached the relay).
pub fn take_fragment() -> Option<String> {
    let window = web_sys::window()?;
    let hash = window.location().hash().ok()?;
    let fragment = hash.strip_prefix('#').unwrap_or(&hash).to_owned();
    if let Ok(history) = window.history() {
        let path = window.location().pathname().unwrap_or_default();
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
    (!fragment.is_empty()).then_some(fragment)
}

/// The value of `name` in the address's query string.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Keeps `value` in this tab's `sessionStorage` under `key` (gone when the tab closes; never
/// sent anywhere), for a page that must survive a trip to another site, such as a payment.
pub fn remember_in_tab(key: &str, value: &str) -> bool {
    session_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

/// What `remember_in_tab` kept under `key`.
pub fn recall_in_tab(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

/// Forgets what `remember_in_tab` kept under `key`.
pub fn forget_in_tab(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// Leaves the app for `url` (a payment page), keeping this page in the tab's history.
pub fn go_to(url: &str) -> bool {
    web_sys::window().is_some_and(|window| window.location().assign(url).is_ok())
}

/// `1.5 MiB`-style sizes for people.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A size the relay reports: files are padded before upload (PROTOCOL.md, manifest version
/// 2), so the relay knows only an upper bound of their size.
pub fn format_stored_bytes(bytes: u64) -> String {
    format!("up to {}", format_bytes(bytes))
}

/// A date and time in the reader's own locale, from Unix seconds.
pub fn format_time(unix_seconds: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        unix_seconds as f64 * 1000.0,
    ));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Starts `future` now, as its own task, instead of when it is first awaited: network requests
/// and file reads then run while the caller encrypts or decrypts. Await the receiver for the
/// result (an error only if the task was dropped).
pub fn eager<T: 'static>(
    future: impl std::future::Future<Output = T> + 'static,
) -> futures::channel::oneshot::Receiver<T> {
    let (sender, receiver) = futures::channel::oneshot::channel();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = sender.send(future.await);
    });
    receiver
}

/// Frees the memory behind `bytes` now instead of at the next garbage collection, by
/// detaching its buffer (ES2024 `ArrayBuffer.prototype.transfer(0)`), where that frees it:
/// WebKit's collector otherwise lets a stream of 1 MiB chunks pile up (measured: 206 MiB
/// instead of 83 while receiving 256 MiB). Not in Blink (Chromium, Edge, …): it keeps its own
/// reference to a buffer it made (a fetch's answer), so detaching frees nothing until the next
/// collection and hides the memory from the collector's accounting (measured: the renderer grew
/// by the whole file; left alone, its collector keeps it near 200 MiB). Firefox is the same
/// either way. Only for buffers of our own (never the WASM memory): `bytes` may be unusable
/// afterwards.
pub fn release(bytes: &js_sys::Uint8Array) {
    let buffer = bytes.buffer();
    if js_sys::Object::is(
        &buffer,
        &wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer(),
    ) {
        return;
    }
    if is_blink() {
        return;
    }
    if let Ok(transfer) = js_sys::Reflect::get(&buffer, &"transfer".into())
        && let Ok(transfer) = transfer.dyn_into::<js_sys::Function>()
    {
        let _ = transfer.call1(&buffer, &wasm_bindgen::JsValue::from_f64(0.0));
    }
}

/// Whether the page runs in Blink, the engine of Chromium and the browsers built on it: the
/// only engine with `navigator.userAgentData` (User-Agent Client Hints).
fn is_blink() -> bool {
    web_sys::window()
        .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"userAgentData".into()).ok())
        .is_some_and(|data| !data.is_undefined() && !data.is_null())
}
