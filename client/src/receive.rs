//! Opening a Secure Send link in the browser (PROTOCOL.md "Links", "Delivery receipts"):
//! derives the proof from the link secret (the address's fragment) and the OTP, spends one
//! open, unwraps the bundle key and opens the manifest; then downloads each file chunk by
//! chunk, decrypts it through WebCrypto (off the main thread, in the engine's crypto threads)
//! and writes it out: to a file the recipient picks where the browser offers the File System
//! Access API, otherwise streamed to the browser's downloads through the download service
//! worker (`download.rs`), and into a Blob only as the last resort for small files. Every file
//! of a bundle at once is `save_all.rs`. A chunk that fails authentication stops the file with
//! an integrity error and nothing half-decrypted is kept. A file counts as saved only when its
//! sink closed without error after exactly the manifest's byte count; the receipt challenge is
//! answered only when every file is saved.

use std::collections::VecDeque;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use shared::crypto::{BundleKey, LinkSecret, Manifest, ManifestFile, Passphrase, StreamError};
use shared::ids::Id;
use shared::wire;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, ApiError};
use crate::crypto::stream::{WebChunkDecryptor, WebStreamError};
use crate::download::{DownloadError, DownloadStream};
use crate::{browser, connectivity};

/// Tries per chunk download before giving up.
const CHUNK_TRIES: u32 = 4;
/// Chunks downloading at once (a few MiB of memory, whatever the file size).
const PREFETCH: usize = 4;
/// The largest file assembled in memory when this browser cannot stream a download.
pub const MEMORY_LIMIT: u64 = 128 * 1024 * 1024;

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
    Download(#[from] DownloadError),
    #[error(
        "this browser cannot stream a download here (a private window?), and “{0}” is too big to assemble in memory; open the link in a normal window or another browser"
    )]
    TooBigForMemory(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Where a file's plaintext goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveTo {
    /// A file the recipient picks, written chunk by chunk (File System Access API).
    Disk,
    /// The browser's downloads: streamed through the download worker (a Blob for a small
    /// file where service workers are unavailable).
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
        token: answer.download_token.dangerously_expose().to_owned(),
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

impl Opened {
    /// Where this opening's chunks come from (with its download token).
    pub fn source(&self) -> ChunkSource {
        ChunkSource::Link {
            id: self.id,
            token: self.token.clone(),
        }
    }
}

/// Downloads, decrypts and saves file `index` of an opened link, reporting plaintext bytes
/// done.
pub async fn save(
    opened: &Opened,
    index: usize,
    to: SaveTo,
    progress: impl Fn(u64),
) -> Result<(), ReceiveError> {
    save_file(
        &opened.key,
        &opened.manifest,
        &opened.source(),
        index,
        to,
        progress,
    )
    .await
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
    let outcome = decrypt_into(
        key,
        source,
        file,
        file_index,
        async |plain| sink.write(plain).await,
        progress,
    )
    .await
    .and_then(|written| check_length(file, written));
    match outcome {
        Ok(()) => sink.finish(&file.name, &file.mime).await,
        Err(error) => {
            sink.abort(&error.to_string()).await;
            Err(error)
        }
    }
}

/// A file is whole only at exactly the size its manifest gives.
pub(crate) fn check_length(file: &ManifestFile, written: u64) -> Result<(), ReceiveError> {
    if written == file.size {
        return Ok(());
    }
    Err(ReceiveError::Integrity(format!(
        "“{}” came out {written} bytes long where its sender's list says {}",
        file.name, file.size
    )))
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
            download_token: opened.token.as_str().into(),
            receipt,
        },
    )
    .await?;
    Ok(())
}

/// Downloads and decrypts one file, handing its plaintext (padding removed) to `write` chunk
/// by chunk; returns the bytes written.
pub(crate) async fn decrypt_into(
    key: &BundleKey,
    source: &ChunkSource,
    file: &ManifestFile,
    file_index: u32,
    mut write: impl AsyncFnMut(Uint8Array) -> Result<(), ReceiveError>,
    progress: impl Fn(u64),
) -> Result<u64, ReceiveError> {
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
    while let Some((chunk, oldest)) = {
        while next < file.chunks && pending.len() < PREFETCH {
            pending.push_back((
                next,
                browser::eager(fetch(source.clone(), file_index, next)),
            ));
            next += 1;
        }
        pending.pop_front()
    } {
        let sealed = match oldest
            .await
            .map_err(|_| ReceiveError::Save("the download was interrupted".to_owned()))?
        {
            Ok(sealed) => sealed,
            // The relay could not be reached: wait until it answers, then fetch the same chunk
            // again (while the download's token lasts; an expired one is refused with words).
            // Everything before it is already decrypted and written.
            Err(FetchFailure::Unreachable) => {
                connectivity::wait_for_relay().await;
                pending.push_front((
                    chunk,
                    browser::eager(fetch(source.clone(), file_index, chunk)),
                ));
                continue;
            }
            Err(FetchFailure::Refused(error)) => return Err(error),
        };
        let index = decryptor.next_index();
        let plain = decryptor.decrypt_next(&sealed).await.map_err(integrity)?;
        browser::release(&sealed);
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
            write(content).await?;
        }
        progress(done);
    }
    decryptor.finish().map_err(integrity)?;
    Ok(done)
}

/// Why a chunk did not come.
enum FetchFailure {
    /// The relay could not be reached, even after a few quick tries.
    Unreachable,
    /// The relay refused it (an expired token, a destroyed link, …).
    Refused(ReceiveError),
}

/// One chunk, retrying passing trouble a few times.
async fn fetch(source: ChunkSource, file: u32, chunk: u32) -> Result<Uint8Array, FetchFailure> {
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
            Err(error) if error.is_unreachable() => return Err(FetchFailure::Unreachable),
            Err(error) => return Err(FetchFailure::Refused(error.into())),
        }
    }
}

/// The destination of one file's plaintext.
pub(crate) enum Sink {
    /// A `FileSystemWritableFileStream`.
    Disk(JsValue),
    /// The browser's downloads, through the download worker.
    Stream(DownloadStream),
    /// A Blob in the making (small files, where nothing can stream).
    Memory(Array),
}

impl Sink {
    async fn open(file: &ManifestFile, to: SaveTo) -> Result<Self, ReceiveError> {
        if to == SaveTo::Download || !can_save_to_disk() {
            return Self::download(&file.name, Some(file.size), file.stream_size()).await;
        }
        let window = web_sys::window().ok_or_else(|| ReceiveError::Save("no window".into()))?;
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &"suggestedName".into(),
            &file.name.as_str().into(),
        );
        let handle = call(&window, "showSaveFilePicker", &[options.into()]).await?;
        Self::disk(&handle).await
    }

    /// The browser's downloads: streamed where the download worker runs, otherwise a Blob
    /// if the file (at most `bound` bytes) is small enough to hold in memory.
    pub(crate) async fn download(
        name: &str,
        size: Option<u64>,
        bound: u64,
    ) -> Result<Self, ReceiveError> {
        match DownloadStream::start(name, size).await {
            Ok(stream) => Ok(Sink::Stream(stream)),
            Err(DownloadError::Unsupported(_) | DownloadError::Bypassed)
                if bound <= MEMORY_LIMIT =>
            {
                Ok(Sink::Memory(Array::new()))
            }
            Err(DownloadError::Unsupported(_)) => Err(ReceiveError::TooBigForMemory(name.into())),
            Err(other) => Err(other.into()),
        }
    }

    /// A file on disk by its `FileSystemFileHandle`.
    pub(crate) async fn disk(handle: &JsValue) -> Result<Self, ReceiveError> {
        let writable = call(handle, "createWritable", &[]).await?;
        Ok(Sink::Disk(writable))
    }

    pub(crate) async fn write(&mut self, plain: Uint8Array) -> Result<(), ReceiveError> {
        match self {
            Sink::Disk(writable) => {
                call(writable, "write", &[plain.into()]).await?;
            }
            Sink::Stream(stream) => stream.write(&plain).await?,
            Sink::Memory(parts) => {
                parts.push(&plain);
            }
        }
        Ok(())
    }

    /// Closes the file: `Ok` only when the browser accepted every byte.
    pub(crate) async fn finish(self, name: &str, mime: &str) -> Result<(), ReceiveError> {
        match self {
            Sink::Disk(writable) => {
                call(&writable, "close", &[]).await?;
                Ok(())
            }
            Sink::Stream(stream) => Ok(stream.close().await?),
            Sink::Memory(parts) => download_blob(&parts, name, mime),
        }
    }

    /// Throws away what was written (a partial file is never left behind).
    pub(crate) async fn abort(self, reason: &str) {
        match self {
            Sink::Disk(writable) => {
                let _ = call(&writable, "abort", &[]).await;
            }
            Sink::Stream(stream) => stream.fail(reason),
            Sink::Memory(_) => {}
        }
    }
}

fn download_blob(parts: &Array, name: &str, mime: &str) -> Result<(), ReceiveError> {
    let failed = |_| ReceiveError::Save("the browser refused to assemble the file".to_owned());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
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
    anchor.set_download(name);
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
pub(crate) async fn call(
    target: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, ReceiveError> {
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
