//! argon2id for the browser: run in the argon2id worker (`bin/argon2_worker.rs`), a separate
//! WASM instance ended after each derivation, so the page's main thread does not block and its
//! WASM memory does not keep the 64 MiB the derivation needs; in the page itself only if the
//! browser cannot start the worker. The bytes are `shared`'s either way (same code). The
//! derivations built on it (master key, link keys) are `shared`'s, from its output.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use shared::crypto::kdf::{KdfError, KdfParams, OtpSalt};
use shared::crypto::{LinkKeys, LinkSecret, MasterKey, OtpKey, Passphrase, link_keys_from_otp_key};
use shared::ids::Id;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

/// Where `.ci/build-client` puts the worker's loader (workers keep unhashed names).
const WORKER_URL: &str = "/argon2_worker_loader.js";
/// A worker that has not answered by then is given up on (and the page derives itself).
const WORKER_TIMEOUT_MS: i32 = 30_000;

/// `master = argon2id(password, salt)`.
pub async fn master_key(
    password: &Passphrase,
    salt: &[u8; 16],
    params: &KdfParams,
) -> Result<MasterKey, KdfError> {
    let out = argon2id(password.dangerously_expose().as_bytes(), salt, params).await?;
    Ok(MasterKey::dangerously_from_bytes(*out))
}

/// A link's keys from its secret and OTP (PROTOCOL.md "Links").
pub async fn link_keys(
    secret: &LinkSecret,
    otp: &Passphrase,
    otp_salt: &OtpSalt,
    link_id: &Id,
    params: &KdfParams,
) -> Result<LinkKeys, KdfError> {
    let o = argon2id(otp.dangerously_expose().as_bytes(), otp_salt, params).await?;
    Ok(link_keys_from_otp_key(
        secret,
        &OtpKey::dangerously_from_bytes(*o),
        link_id,
    ))
}

/// `argon2id(secret, salt)`, 32 bytes, in the worker when it can be started.
pub async fn argon2id(
    secret: &[u8],
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KdfError> {
    // Every argon2id of the browser hashes a password or an OTP with parameters the relay
    // handed over: protocol v1's are the floor.
    params.check_client_floor()?;
    match in_worker(secret, salt, params).await {
        Ok(key) => Ok(key),
        Err(WorkerOutcome::Refused(problem)) => Err(KdfError::Argon2(problem)),
        Err(WorkerOutcome::Unavailable) => {
            crate::browser::yield_to_browser().await;
            shared::crypto::kdf::argon2id(secret, salt, params)
        }
    }
}

enum WorkerOutcome {
    /// The worker ran and refused (bad parameters or salt).
    Refused(String),
    /// No worker could be started or it failed to load: derive in the page instead.
    Unavailable,
}

async fn in_worker(
    secret: &[u8],
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, WorkerOutcome> {
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options(WORKER_URL, &options)
        .map_err(|_| WorkerOutcome::Unavailable)?;
    let message = Object::new();
    let params_json = serde_json::to_string(params).map_err(|_| WorkerOutcome::Unavailable)?;
    let set = |name: &str, value: &JsValue| {
        let _ = Reflect::set(&message, &JsValue::from_str(name), value);
    };
    set("secret", &Uint8Array::from(secret).into());
    set("salt", &Uint8Array::from(salt).into());
    set("params", &JsValue::from_str(&params_json));
    let (sender, receiver) = futures::channel::oneshot::channel::<Result<JsValue, ()>>();
    let sender = Rc::new(RefCell::new(Some(sender)));
    // The worker says "ready" once it listens; only then is the work posted (a message posted
    // earlier could be lost while its WASM loads).
    let on_message = {
        let (sender, worker, message) = (sender.clone(), worker.clone(), message.clone());
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let data = event.data();
            if data.as_string().as_deref() == Some("ready") {
                if worker.post_message(&message).is_err()
                    && let Some(sender) = sender.borrow_mut().take()
                {
                    let _ = sender.send(Err(()));
                }
                return;
            }
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(Ok(data));
            }
        })
    };
    let on_error = {
        let sender = sender.clone();
        Closure::<dyn Fn(web_sys::Event)>::new(move |_event: web_sys::Event| {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(Err(()));
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let timeout = {
        let sender = sender.clone();
        Closure::once_into_js(move || {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(Err(()));
            }
        })
    };
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            timeout.unchecked_ref(),
            WORKER_TIMEOUT_MS,
        );
    }
    let answer = receiver.await.ok().and_then(Result::ok);
    // Ending the worker frees its WASM memory (the 64 MiB of the derivation).
    worker.terminate();
    drop((on_message, on_error));
    let answer = answer.ok_or(WorkerOutcome::Unavailable)?;
    let field = |name: &str| Reflect::get(&answer, &JsValue::from_str(name)).ok();
    if let Some(problem) = field("error").and_then(|value| value.as_string()) {
        return Err(WorkerOutcome::Refused(problem));
    }
    let key = field("key")
        .filter(|value| value.is_instance_of::<Uint8Array>())
        .map(|value| Zeroizing::new(Uint8Array::new(&value).to_vec()))
        .ok_or(WorkerOutcome::Unavailable)?;
    let bytes: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| WorkerOutcome::Unavailable)?;
    Ok(Zeroizing::new(bytes))
}
