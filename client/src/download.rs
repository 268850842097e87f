//! Streamed downloads through the download service worker (`public/download-worker.js`, scope
//! `/_download/`): a file of any size is written by the browser's own download manager while
//! this page hands it one decrypted chunk at a time, so memory stays flat in file size in every
//! engine, with or without the File System Access API. The page registers the download with the
//! worker over a `MessageChannel`, points a hidden frame at `/_download/<id>`, then answers each
//! "pull" of the worker with the next chunk: a write waits until the browser wants more bytes.
//! It knows nothing of keys or ciphertext (`receive.rs` decrypts; this only carries plaintext).

use futures::StreamExt as _;
use futures::channel::mpsc;
use js_sys::{Array, Object, Reflect, Uint8Array};
use shared::crypto::OsRng;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::browser;

/// The worker's script and the only URLs it answers.
const WORKER_SCRIPT: &str = "/download-worker.js";
const WORKER_SCOPE: &str = "/_download/";
/// How long a new worker may take to become active, and the browser to start the download.
const ACTIVATE_MS: f64 = 10_000.0;
const START_MS: f64 = 60_000.0;
/// Browsers stop an idle service worker after about 30 s; a message keeps it alive.
const KEEPALIVE_MS: i32 = 10_000;

/// Why a streamed download could not be made or was stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// No usable service worker (e.g. a private window): the caller may fall back to a Blob.
    #[error("this browser cannot stream downloads here ({0})")]
    Unsupported(String),
    #[error(
        "the browser stopped saving “{0}” (cancelled, or blocked: browsers let a page start one download without a click; use its Save button)"
    )]
    Cancelled(String),
    #[error("the browser did not start saving “{0}”")]
    NotStarted(String),
    /// A forced reload (Shift+Reload) sends every frame of the page past service workers.
    #[error(
        "this page was loaded with a forced reload, which switches off its download helper: reload it normally and save again"
    )]
    Bypassed,
}

/// What the worker says about one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Registered,
    /// The worker received the frame's navigation.
    Fetched,
    /// The frame loaded a page: the navigation went past the worker.
    FrameLoaded,
    Pull,
    Cancel,
}

/// One download in progress: write chunks, then `close` (or `fail`).
pub struct DownloadStream {
    name: String,
    port: web_sys::MessagePort,
    signals: mpsc::UnboundedReceiver<Signal>,
    frame: web_sys::HtmlIFrameElement,
    keepalive: Option<i32>,
    pulled: bool,
    finished: bool,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_frame_load: Closure<dyn FnMut()>,
    _keepalive_tick: Closure<dyn FnMut()>,
}

impl std::fmt::Debug for DownloadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DownloadStream {
    /// Starts a download of `name` (`size` bytes, if known): returns once the worker has the
    /// browser's request for it.
    pub async fn start(name: &str, size: Option<u64>) -> Result<Self, DownloadError> {
        let unsupported = |what: &str| DownloadError::Unsupported(what.to_owned());
        let worker = active_worker().await?;
        let channel = web_sys::MessageChannel::new().map_err(|_| unsupported("no channels"))?;
        let port = channel.port1();
        let (sender, signals) = mpsc::unbounded();
        let frame_sender = sender.clone();
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let kind = Reflect::get(&event.data(), &"type".into())
                    .ok()
                    .and_then(|kind| kind.as_string());
                let signal = match kind.as_deref() {
                    Some("registered") => Signal::Registered,
                    Some("fetched") => Signal::Fetched,
                    Some("pull") => Signal::Pull,
                    _ => Signal::Cancel,
                };
                let _ = sender.unbounded_send(signal);
            },
        );
        let on_frame_load = Closure::<dyn FnMut()>::new(move || {
            let _ = frame_sender.unbounded_send(Signal::FrameLoaded);
        });
        port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let mut id = [0_u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut id);
        let id: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
        let message = Object::new();
        let set = |key: &str, value: JsValue| Reflect::set(&message, &key.into(), &value);
        let _ = set("type", "download".into());
        let _ = set("id", id.as_str().into());
        let _ = set("name", name.into());
        if let Some(size) = size.filter(|size| *size <= (1 << 53)) {
            let _ = set("size", JsValue::from_f64(size as f64));
        }
        let transfer = Array::of1(&channel.port2());
        worker
            .post_message_with_transferable(&message, &transfer)
            .map_err(|_| unsupported("the download worker refused the message"))?;

        let keepalive_tick = Closure::<dyn FnMut()>::new(move || {
            let _ = worker.post_message(&Object::new());
        });
        let window = web_sys::window().ok_or_else(|| unsupported("no window"))?;
        let keepalive = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                keepalive_tick.as_ref().unchecked_ref(),
                KEEPALIVE_MS,
            )
            .ok();
        let document = window
            .document()
            .ok_or_else(|| unsupported("no document"))?;
        let frame: web_sys::HtmlIFrameElement = document
            .create_element("iframe")
            .map_err(|_| unsupported("no frames"))?
            .unchecked_into();
        frame.set_hidden(true);
        frame.set_onload(Some(on_frame_load.as_ref().unchecked_ref()));
        let _ = frame.set_attribute("aria-hidden", "true");
        let mut stream = Self {
            name: name.to_owned(),
            port,
            signals,
            frame,
            keepalive,
            pulled: false,
            finished: false,
            _on_message: on_message,
            _on_frame_load: on_frame_load,
            _keepalive_tick: keepalive_tick,
        };
        match stream.next_signal(Some(ACTIVATE_MS)).await {
            Some(Signal::Registered) => {}
            _ => return Err(unsupported("the download worker did not answer")),
        }
        stream.frame.set_src(&format!("{WORKER_SCOPE}{id}"));
        if let Some(body) = document.body() {
            let _ = body.append_child(&stream.frame);
        }
        match stream.next_signal(Some(ACTIVATE_MS)).await {
            Some(Signal::Fetched) => Ok(stream),
            Some(Signal::FrameLoaded) => Err(DownloadError::Bypassed),
            Some(Signal::Cancel) => Err(DownloadError::Cancelled(stream.name.clone())),
            _ => Err(DownloadError::NotStarted(stream.name.clone())),
        }
    }

    /// Hands `bytes` to the browser once it wants more: this is where a fast decryption waits
    /// for a slower disk. `bytes` may be detached afterwards (empty): do not read it again.
    pub async fn write(&mut self, bytes: &Uint8Array) -> Result<(), DownloadError> {
        self.wait_for_pull().await?;
        // Handed over without a copy when the bytes are a whole buffer of their own (a
        // decrypted chunk): transferring detaches it, which frees it here at once. Otherwise
        // (a view into a larger buffer, or the WASM memory) a copy is transferred.
        let whole = bytes.byte_offset() == 0
            && bytes.byte_length() == bytes.buffer().byte_length()
            && !js_sys::Object::is(&bytes.buffer(), &wasm_memory_buffer());
        let copy = if whole {
            bytes.clone()
        } else {
            let copy = Uint8Array::new_with_length(bytes.length());
            copy.set(bytes, 0);
            copy
        };
        let message = Object::new();
        let _ = Reflect::set(&message, &"type".into(), &"chunk".into());
        let _ = Reflect::set(&message, &"bytes".into(), &copy.buffer());
        self.port
            .post_message_with_transferable(&message, &Array::of1(&copy.buffer()))
            .map_err(|_| DownloadError::Cancelled(self.name.clone()))
    }

    /// Ends the file: the browser has every byte once this returns `Ok`.
    pub async fn close(mut self) -> Result<(), DownloadError> {
        self.wait_for_pull().await?;
        self.post("end", None);
        self.finished = true;
        Ok(())
    }

    /// Stops the download with `reason`; the browser discards what it received.
    pub fn fail(mut self, reason: &str) {
        self.post("error", Some(reason));
        self.finished = true;
    }

    async fn wait_for_pull(&mut self) -> Result<(), DownloadError> {
        // Only the first pull times out (it can wait on a browser that asks where to save);
        // later, a download the user paused may wait for ever.
        let timeout = (!self.pulled).then_some(START_MS);
        loop {
            match self.next_signal(timeout).await {
                Some(Signal::Pull) => {
                    self.pulled = true;
                    return Ok(());
                }
                // A frame may still load once the download is under way: not a failure.
                Some(Signal::FrameLoaded | Signal::Fetched | Signal::Registered) => {}
                Some(Signal::Cancel) => return Err(DownloadError::Cancelled(self.name.clone())),
                None => return Err(DownloadError::NotStarted(self.name.clone())),
            }
        }
    }

    /// The next message of the worker, or `None` after `timeout_ms` without one.
    async fn next_signal(&mut self, timeout_ms: Option<f64>) -> Option<Signal> {
        let Some(timeout_ms) = timeout_ms else {
            return self.signals.next().await;
        };
        let started = browser::now_ms();
        loop {
            let waiting = self.signals.next();
            let tick = browser::sleep(250);
            futures::pin_mut!(waiting, tick);
            match futures::future::select(waiting, tick).await {
                futures::future::Either::Left((signal, _)) => return signal,
                futures::future::Either::Right(_) if browser::now_ms() - started > timeout_ms => {
                    return None;
                }
                futures::future::Either::Right(_) => {}
            }
        }
    }

    fn post(&self, kind: &str, reason: Option<&str>) {
        let message = Object::new();
        let _ = Reflect::set(&message, &"type".into(), &kind.into());
        if let Some(reason) = reason {
            let _ = Reflect::set(&message, &"message".into(), &reason.into());
        }
        let _ = self.port.post_message(&message);
    }
}

impl Drop for DownloadStream {
    fn drop(&mut self) {
        if !self.finished {
            self.post("error", Some("the page stopped the download"));
        }
        if let (Some(handle), Some(window)) = (self.keepalive, web_sys::window()) {
            window.clear_interval_with_handle(handle);
        }
        self.port.set_onmessage(None);
        // The download goes on without the frame; it is removed a little later so that no
        // engine takes its removal for a cancel.
        let frame = self.frame.clone();
        wasm_bindgen_futures::spawn_local(async move {
            browser::sleep(5_000).await;
            frame.remove();
        });
    }
}

/// Whether this browser has service workers at all (not, for example, in Firefox's private
/// windows).
pub fn supported() -> bool {
    web_sys::window()
        .map(|window| window.navigator())
        .and_then(|navigator| Reflect::get(&navigator, &"serviceWorker".into()).ok())
        .is_some_and(|container| !container.is_undefined() && !container.is_null())
}

/// The download worker, registered (once per browser) and active.
async fn active_worker() -> Result<web_sys::ServiceWorker, DownloadError> {
    let unsupported = |what: &str| DownloadError::Unsupported(what.to_owned());
    if !supported() {
        return Err(unsupported("no service workers"));
    }
    let container = web_sys::window()
        .ok_or_else(|| unsupported("no window"))?
        .navigator()
        .service_worker();
    let options = web_sys::RegistrationOptions::new();
    options.set_scope(WORKER_SCOPE);
    let registration: web_sys::ServiceWorkerRegistration =
        JsFuture::from(container.register_with_options(WORKER_SCRIPT, &options))
            .await
            .map_err(|_| unsupported("the download worker could not be registered"))?
            .unchecked_into();
    let started = browser::now_ms();
    loop {
        // "activated", not just "activating": Firefox does not route a navigation to a worker
        // that is still activating.
        if let Some(worker) = registration.active()
            && Reflect::get(&worker, &"state".into())
                .ok()
                .and_then(|state| state.as_string())
                .as_deref()
                == Some("activated")
        {
            return Ok(worker);
        }
        if browser::now_ms() - started > ACTIVATE_MS {
            return Err(unsupported("the download worker did not start"));
        }
        browser::sleep(25).await;
    }
}

fn wasm_memory_buffer() -> JsValue {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
}
