//! Opening a Secure Send link in the browser (PROTOCOL.md "Links", "Delivery receipts"):
//! derives the proof from the link secret (the address's fragment) and the OTP, spends one
//! open, unwraps the bundle key and opens the manifest; then downloads each file chunk by
//! chunk, decrypts it through WebCrypto and writes it out, straight to a file on disk where
//! the browser offers the File System Access API, or into a Blob otherwise. A chunk that fails
//! authentication stops the file with an integrity error and nothing half-decrypted is kept.
//! Last it answers the relay's receipt challenge.

use std::collections::VecDeque;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use shared::crypto::{BundleKey, LinkSecret, Manifest, ManifestFile, Passphrase, StreamError};
use shared::ids::Id;
use shared::wire;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, ApiError};
use crate::browser;
use crate::crypto::stream::{WebChunkDecryptor, WebStreamError};

/// Tries per chunk download before giving up.
const CHUNK_TRIES: u32 = 4;
/// Chunks downloading at once (a few MiB of memory, whatever the file size).
const PREFETCH: usize = 4;

/// An opened link: the bundle key, the manifest and what the relay handed out with them.
pub struct Opened {
    pub id: Id,
    pub key: BundleKey,
    pub manifest: Manifest,
    token: String,
    receipt_nonce: [u8; 16],
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("id", &self.id)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// Why a link could not be opened or a file saved, in words for the recipient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    #[error(
        "this link is incomplete: its secret part (after #) is missing or damaged; copy the whole link"
    )]
    MissingSecret,
    #[error(
        "integrity check failed: {0}. The download was stopped and nothing from it was kept; ask the sender to send again"
    )]
    Integrity(String),
    #[error("could not derive the key in this browser: {0}")]
    Crypto(String),
    #[error("could not write the file: {0}")]
    Save(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Where a file's plaintext goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveTo {
    /// A file the recipient picks, written chunk by chunk (File System Access API).
    Disk,
    /// A Blob handed to the browser's download.
    Download,
}

/// Whether this browser can write straight to a file the user picks.
pub fn can_save_to_disk() -> bool {
    web_sys::window()
        .and_then(|window| Reflect::get(&window, &"showSaveFilePicker".into()).ok())
        .is_some_and(|value| value.is_function())
}

/// Computes the proof and opens the link; a wrong OTP comes back as the relay's refusal.
pub async fn open(
    info: &wire::LinkInfo,
    secret: &LinkSecret,
    otp: &Passphrase,
) -> Result<Opened, ReceiveError> {
    let keys = crate::crypto::kdf::link_keys(secret, otp, &info.otp_salt, &info.id, &info.kdf)
        .await
        .map_err(|error| ReceiveError::Crypto(error.to_string()))?;
    let answer = api::open_link(info.id, keys.proof.dangerously_expose_bytes()).await?;
    let key = keys.link_key.unwrap(&answer.wrapped_key).map_err(|_| {
        ReceiveError::Integrity("the relay released a key that does not match this link".into())
    })?;
    let manifest = Manifest::open(&key, &answer.manifest)
        .map_err(|error| ReceiveError::Integrity(format!("the file list {error}")))?;
    Ok(Opened {
        id: info.id,
        key,
        manifest,
        token: answer.download_token,
        receipt_nonce: answer.receipt_nonce,
    })
}

/// Where a bundle's sealed chunks are fetched from.
#[derive(Debug, Clone)]
pub enum ChunkSource {
    /// A Secure Send link, with the token of a correct opening.
    Link { id: Id, token: String },
    /// A document: with the session, or with a request link's upload token.
    Document { id: Id, link_token: Option<String> },
}

/// Downloads, decrypts and saves file `index` of an opened link, reporting plaintext bytes
/// done.
pub async fn save(
    opened: &Opened,
    index: usize,
    to: SaveTo,
    progress: impl Fn(u64),
) -> Result<(), ReceiveError> {
    let source = ChunkSource::Link {
        id: opened.id,
        token: opened.token.clone(),
    };
    save_file(&opened.key, &opened.manifest, &source, index, to, progress).await
}

/// Downloads, decrypts and saves file `index` of any bundle whose key is known.
pub async fn save_file(
    key: &BundleKey,
    manifest: &Manifest,
    source: &ChunkSource,
    index: usize,
    to: SaveTo,
    progress: impl Fn(u64),
) -> Result<(), ReceiveError> {
    let file = manifest
        .files
        .get(index)
        .ok_or_else(|| ReceiveError::Save("no such file".to_owned()))?;
    let file_index = u32::try_from(index).map_err(|_| ReceiveError::Save("no such file".into()))?;
    let mut sink = Sink::open(file, to).await?;
    let outcome = decrypt_into(key, source, file, file_index, &mut sink, progress).await;
    match outcome {
        Ok(()) => sink.finish(file).await,
        Err(error) => {
            sink.abort().await;
            Err(error)
        }
    }
}

/// Answers the relay's challenge: proof that this browser holds `K`.
pub async fn confirm_delivery(opened: &Opened) -> Result<(), ReceiveError> {
    let receipt = opened
        .key
        .receipt_key()
        .receipt(&opened.id, &opened.receipt_nonce);
    api::send_receipt(
        opened.id,
        &wire::ReceiptRequest {
            download_token: opened.token.clone(),
            receipt,
        },
    )
    .await?;
    Ok(())
}

async fn decrypt_into(
    key: &BundleKey,
    source: &ChunkSource,
    file: &ManifestFile,
    file_index: u32,
    sink: &mut Sink,
    progress: impl Fn(u64),
) -> Result<(), ReceiveError> {
    let integrity = |error: WebStreamError| match error {
        WebStreamError::Stream(StreamError::Tampered { index }) => {
            ReceiveError::Integrity(format!(
                "part {} of “{}” was altered or does not belong to it",
                index + 1,
                file.name
            ))
        }
        WebStreamError::Stream(StreamError::BadPadding { index }) => {
            ReceiveError::Integrity(format!(
                "part {} of “{}” holds bytes past the end of the file: it was not made as Sealpost makes files",
                index + 1,
                file.name
            ))
        }
        other => ReceiveError::Integrity(other.to_string()),
    };
    let mut decryptor = WebChunkDecryptor::new(
        &key.file_key(file_index),
        &file.nonce_prefix,
        file.stream_size(),
    )
    .await
    .map_err(integrity)?;
    // A few chunks download (each as its own task) while the oldest is decrypted and written.
    let mut pending = VecDeque::new();
    let mut next = 0;
    let mut done = 0_u64;
    while let Some(oldest) = {
        while next < file.chunks && pending.len() < PREFETCH {
            pending.push_back(browser::eager(fetch(source.clone(), file_index, next)));
            next += 1;
        }
        pending.pop_front()
    } {
        let sealed = oldest
            .await
            .map_err(|_| ReceiveError::Save("the download was interrupted".to_owned()))??;
        let index = decryptor.next_index();
        let plain = decryptor.decrypt_next(&sealed).await.map_err(integrity)?;
        // The stream is the file and then zeros up to its padded size: only the file is
        // written, and the padding must be zeros.
        let keep = u32::try_from(file.content_len(index)).unwrap_or(u32::MAX);
        if plain.length() > keep {
            file.strip_padding(index, &plain.to_vec())
                .map_err(|error| integrity(error.into()))?;
        }
        let content = plain.subarray(0, keep.min(plain.length()));
        done += u64::from(content.length());
        if content.length() > 0 {
            sink.write(content).await?;
        }
        progress(done);
    }
    decryptor.finish().map_err(integrity)
}

/// One chunk, retrying passing trouble.
async fn fetch(source: ChunkSource, file: u32, chunk: u32) -> Result<Uint8Array, ReceiveError> {
    let mut attempt = 1;
    loop {
        let outcome = match &source {
            ChunkSource::Link { id, token } => api::link_chunk(*id, file, chunk, token).await,
            ChunkSource::Document { id, link_token } => {
                api::document_chunk(*id, file, chunk, link_token.as_deref()).await
            }
        };
        match outcome {
            Ok(bytes) => return Ok(bytes),
            Err(error) if error.is_transient() && attempt < CHUNK_TRIES => {
                browser::sleep(250 * 2_i32.pow(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The destination of one file's plaintext.
enum Sink {
    /// A `FileSystemWritableFileStream`.
    Disk(JsValue),
    Memory(Array),
}

impl Sink {
    async fn open(file: &ManifestFile, to: SaveTo) -> Result<Self, ReceiveError> {
        if to == SaveTo::Download || !can_save_to_disk() {
            return Ok(Sink::Memory(Array::new()));
        }
        let window = web_sys::window().ok_or_else(|| ReceiveError::Save("no window".into()))?;
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &"suggestedName".into(),
            &file.name.as_str().into(),
        );
        let handle = call(&window, "showSaveFilePicker", &[options.into()]).await?;
        let writable = call(&handle, "createWritable", &[]).await?;
        Ok(Sink::Disk(writable))
    }

    async fn write(&mut self, plain: Uint8Array) -> Result<(), ReceiveError> {
        match self {
            Sink::Disk(writable) => {
                call(writable, "write", &[plain.into()]).await?;
            }
            Sink::Memory(parts) => {
                parts.push(&plain);
            }
        }
        Ok(())
    }

    async fn finish(self, file: &ManifestFile) -> Result<(), ReceiveError> {
        match self {
            Sink::Disk(writable) => {
                call(&writable, "close", &[]).await?;
                Ok(())
            }
            Sink::Memory(parts) => download_blob(&parts, file),
        }
    }

    /// Throws away what was written (a partial file is never left behind).
    async fn abort(self) {
        if let Sink::Disk(writable) = self {
            let _ = call(&writable, "abort", &[]).await;
        }
    }
}

fn download_blob(parts: &Array, file: &ManifestFile) -> Result<(), ReceiveError> {
    let failed = |_| ReceiveError::Save("the browser refused to assemble the file".to_owned());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&file.mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &options).map_err(failed)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| ReceiveError::Save("no document".into()))?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(failed)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(&file.name);
    anchor.click();
    // The download has its own reference; release ours after the click is handled.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
    Ok(())
}

/// Calls `target[method](...args)` and awaits the promise it returns.
async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, ReceiveError> {
    let failed = |error: JsValue| {
        let message = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| format!("{method} failed"));
        ReceiveError::Save(message)
    };
    let function: Function = Reflect::get(target, &method.into())
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    let array: Array = args.iter().collect();
    let promise: Promise = function
        .apply(target, &array)
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    JsFuture::from(promise).await.map_err(failed)
}

/// The link secret from the fragment, or why it is unusable.
pub fn secret_from_fragment(fragment: Option<&str>) -> Result<LinkSecret, ReceiveError> {
    fragment
        .and_then(|text| LinkSecret::from_fragment(text).ok())
        .ok_or(ReceiveError::MissingSecret)
}
