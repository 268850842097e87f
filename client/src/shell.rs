//! The installed app shell: registers the app-shell service worker (`public/shell-worker.js`),
//! which keeps the app's files so that it starts without a network, and asks it which bundle
//! this page runs (the SHA-256 it computed from the files it cached). Remembers the last bundle
//! this browser ran, so that the app can say when it changed. It does not talk to the relay's
//! API and caches nothing itself.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::browser;

const SCRIPT: &str = "/shell-worker.js";
const LAST_BUNDLE: &str = "sealpost.bundle";
/// How long the worker may take to answer which bundle it holds.
const ANSWER_MS: i32 = 3_000;

/// What changed since this browser last ran the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleChange {
    pub previous: String,
    pub current: String,
}

/// Registers the shell worker, or checks the relay for a newer one (the browser installs it
/// beside the running one; it serves from the next start). Failures are only logged: without
/// the worker the app works as before, online.
pub async fn register() {
    let Some(container) = container() else {
        return;
    };
    let options = web_sys::RegistrationOptions::new();
    options.set_scope("/");
    if let Err(error) = JsFuture::from(container.register_with_options(SCRIPT, &options)).await {
        web_sys::console::warn_2(
            &"the app-shell worker could not be registered:".into(),
            &error,
        );
    }
}

/// The bundle this page runs, as the shell worker that served it computed it; `None` when no
/// worker served this page (a first visit, a forced reload, no service workers).
pub async fn running_bundle() -> Option<String> {
    let controller = container()?.controller()?;
    let channel = web_sys::MessageChannel::new().ok()?;
    let answer = js_sys::Promise::new(&mut |resolve, _| {
        let on_message = Closure::once_into_js(move |event: web_sys::MessageEvent| {
            let _ = resolve.call1(&JsValue::NULL, &event.data());
        });
        channel
            .port1()
            .set_onmessage(Some(on_message.unchecked_ref()));
    });
    let question = Object::new();
    Reflect::set(&question, &"type".into(), &"shell".into()).ok()?;
    controller
        .post_message_with_transferable(&question, &js_sys::Array::of1(&channel.port2()))
        .ok()?;
    let timeout = async {
        browser::sleep(ANSWER_MS).await;
        JsValue::NULL
    };
    let answer = async { JsFuture::from(answer).await.unwrap_or(JsValue::NULL) };
    futures::pin_mut!(timeout, answer);
    let reply = match futures::future::select(answer, timeout).await {
        futures::future::Either::Left((reply, _)) | futures::future::Either::Right((reply, _)) => {
            reply
        }
    };
    channel.port1().close();
    let bundle = Reflect::get(&reply, &"bundle".into()).ok()?.as_string()?;
    (bundle.len() == 64 && bundle.bytes().all(|b| b.is_ascii_hexdigit())).then_some(bundle)
}

/// Records `current` as the bundle this browser runs and says whether it differs from the one
/// recorded before (nothing is said the first time).
pub fn remember(current: &str) -> Option<BundleChange> {
    let storage = web_sys::window()?.local_storage().ok()??;
    let previous = storage.get_item(LAST_BUNDLE).ok().flatten();
    if previous.as_deref() != Some(current) {
        let _ = storage.set_item(LAST_BUNDLE, current);
    }
    match previous {
        Some(previous) if previous != current => Some(BundleChange {
            previous,
            current: current.to_owned(),
        }),
        _ => None,
    }
}

fn container() -> Option<web_sys::ServiceWorkerContainer> {
    crate::download::supported()
        .then(|| web_sys::window().map(|w| w.navigator().service_worker()))?
}
