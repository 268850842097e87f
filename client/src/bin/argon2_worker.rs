//! The argon2id worker (a Web Worker of its own WASM instance): runs the protocol's
//! memory-hard derivation (m = 64 MiB, t = 3) off the page's main thread, so the page does not
//! freeze for its quarter of a second and the page's own WASM memory never grows by 64 MiB.
//! Once it listens it says `"ready"`; it answers a message `{secret, salt, params}` with `{key}`
//! or `{error}`; the page ends the worker after each derivation, which frees its memory. It
//! never sends anything anywhere.

use js_sys::{Object, Reflect, Uint8Array};
use shared::crypto::kdf::{KdfParams, argon2id};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

fn main() {
    let Ok(scope) = js_sys::global().dyn_into::<web_sys::DedicatedWorkerGlobalScope>() else {
        return;
    };
    let reply_to = scope.clone();
    let handler =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let answer = derive(&event.data());
            let _ = reply_to.post_message(&answer);
        });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    handler.forget();
    // Messages posted before the handler existed would be lost: the page waits for this.
    let _ = scope.post_message(&JsValue::from_str(READY));
}

/// What the worker says once it listens.
const READY: &str = "ready";

fn derive(data: &JsValue) -> JsValue {
    let answer = Object::new();
    let field = |name: &str| Reflect::get(data, &JsValue::from_str(name)).ok();
    let bytes = |name: &str| {
        field(name)
            .filter(|value| value.is_instance_of::<Uint8Array>())
            .map(|value| Zeroizing::new(Uint8Array::new(&value).to_vec()))
    };
    let params = field("params")
        .and_then(|value| value.as_string())
        .and_then(|text| serde_json::from_str::<KdfParams>(&text).ok());
    let outcome = match (bytes("secret"), bytes("salt"), params) {
        (Some(secret), Some(salt), Some(params)) => {
            argon2id(&secret, &salt, &params).map_err(|error| error.to_string())
        }
        _ => Err("the message lacks a secret, a salt or parameters".to_owned()),
    };
    let (name, value) = match outcome {
        Ok(key) => ("key", JsValue::from(Uint8Array::from(key.as_slice()))),
        Err(problem) => ("error", JsValue::from_str(&problem)),
    };
    let _ = Reflect::set(&answer, &JsValue::from_str(name), &value);
    answer.into()
}
