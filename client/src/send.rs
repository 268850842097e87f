//! Secure Send in the browser (PROTOCOL.md "Documents" and "Links"): draws the bundle key,
//! seals the manifest (names, types, sizes, note), reserves the bundle, then reads each file
//! slice by slice, encrypts each 1 MiB chunk through WebCrypto and uploads it, several in
//! flight, retrying a failed chunk; only a few chunks are ever held at once, whatever the file
//! size. Last it derives the link keys from a fresh link secret and the OTP, and finalizes with
//! the guard. The OTP, the link secret and every plaintext stay in this browser.

use std::collections::VecDeque;

use js_sys::Uint8Array;
use rand_core::RngCore as _;
use shared::crypto::kdf::KdfParams;
use shared::crypto::{BundleKey, LinkSecret, Manifest, ManifestFile, OsRng, Passphrase};
use shared::ids::Id;
use shared::wire;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use crate::api::{self, ApiError, AuthorizedApi};
use crate::browser;
use crate::crypto::stream::WebChunkEncryptor;

/// The shortest one-time password accepted (PRODUCT.md flow 1).
pub const MIN_OTP_CHARS: usize = 6;

/// What generated one-time passwords are made of: lower-case letters and digits without the
/// look-alikes (0/o, 1/l/i), so they can be read out over the phone.
pub const OTP_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters of a generated one-time password: 14 of 31 symbols, about 69 bits, which an
/// offline search of a stolen database (with the link) cannot exhaust at argon2id's cost,
/// where a short typed one can (SECURITY.md, "What the relay sees").
pub const GENERATED_OTP_CHARS: usize = 14;

/// A fresh random one-time password (rejection sampling: every symbol equally likely).
pub fn generate_otp() -> String {
    let mut otp = String::with_capacity(GENERATED_OTP_CHARS);
    let limit = 256 - 256 % OTP_ALPHABET.len();
    while otp.len() < GENERATED_OTP_CHARS {
        let mut byte = [0_u8; 1];
        OsRng.fill_bytes(&mut byte);
        let value = usize::from(byte[0]);
        if value < limit {
            otp.push(char::from(OTP_ALPHABET[value % OTP_ALPHABET.len()]));
        }
    }
    otp
}
/// Chunks uploading at once: enough to hide each request's latency, few enough to keep memory
/// at a handful of MiB.
const IN_FLIGHT: usize = 6;
/// File slices read ahead of encryption.
const READ_AHEAD: usize = 3;
/// Tries per chunk before the send gives up.
const CHUNK_TRIES: u32 = 4;

/// What the sender chose.
pub struct Outgoing {
    pub files: Vec<web_sys::File>,
    pub note: Option<String>,
    pub recipient_email: Option<String>,
    pub otp: Passphrase,
    pub expires_in_seconds: i64,
    pub max_opens: u32,
    /// Payment asked before the documents open (the paywall).
    pub invoice: Option<wire::InvoiceTerms>,
}

/// How far a send has come, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Plaintext bytes encrypted and stored by the relay.
    pub done: u64,
    pub total: u64,
    pub elapsed_ms: f64,
    pub finishing: bool,
}

impl Progress {
    /// Bytes per second so far.
    pub fn speed(&self) -> f64 {
        if self.elapsed_ms <= 0.0 {
            return 0.0;
        }
        self.done as f64 / (self.elapsed_ms / 1000.0)
    }

    /// Seconds left at the speed so far, once there is a speed.
    pub fn seconds_left(&self) -> Option<f64> {
        let speed = self.speed();
        (speed > 0.0).then(|| self.total.saturating_sub(self.done) as f64 / speed)
    }
}

/// A finished send: the link to hand to the recipient (its fragment carries the secret).
pub struct Sent {
    pub id: Id,
    pub link: Zeroizing<String>,
    pub expires_at: i64,
}

/// Why a send did not go out, in words for the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("choose at least one file")]
    NoFiles,
    #[error("the one-time password must be at least {MIN_OTP_CHARS} characters")]
    OtpTooShort,
    #[error("{0}")]
    Invalid(String),
    #[error("could not read “{0}”: it may have been moved or changed while sending")]
    Read(String),
    #[error("encryption failed in this browser: {0}")]
    Crypto(String),
    #[error("the send was interrupted; try again")]
    Cancelled,
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Encrypts and uploads everything, then finalizes the link.
pub async fn send(
    api: &AuthorizedApi,
    outgoing: Outgoing,
    progress: impl Fn(Progress),
) -> Result<Sent, SendError> {
    if outgoing.files.is_empty() {
        return Err(SendError::NoFiles);
    }
    if outgoing.otp.char_count() < MIN_OTP_CHARS {
        return Err(SendError::OtpTooShort);
    }
    let bundle_key = BundleKey::generate(&mut OsRng);
    let mut entries = Vec::with_capacity(outgoing.files.len());
    for file in &outgoing.files {
        let mime = match file.type_() {
            mime if mime.is_empty() => "application/octet-stream".to_owned(),
            mime => mime,
        };
        let entry = ManifestFile::new(file.name(), mime, file_size(file), &mut OsRng)
            .map_err(|error| SendError::Invalid(error.to_string()))?;
        entries.push(entry);
    }
    let manifest = Manifest::new(
        entries,
        outgoing.note.filter(|note| !note.trim().is_empty()),
    );
    let sealed_manifest = manifest
        .seal(&bundle_key, &mut OsRng)
        .map_err(|error| SendError::Invalid(error.to_string()))?;
    let total: u64 = manifest.files.iter().map(|file| file.size).sum();
    let created = api
        .create_send(&wire::CreateSendRequest {
            files: manifest
                .files
                .iter()
                .map(ManifestFile::stream_size)
                .collect(),
            expires_in_seconds: outgoing.expires_in_seconds,
            max_opens: outgoing.max_opens,
            recipient_email: outgoing.recipient_email.clone(),
            invoice: outgoing.invoice.clone(),
        })
        .await?;

    let started = browser::now_ms();
    let report = |done: u64, finishing: bool| {
        progress(Progress {
            done,
            total,
            elapsed_ms: browser::now_ms() - started,
            finishing,
        });
    };
    report(0, false);
    let destination = Destination::Send {
        api: Box::new(api.clone()),
        id: created.id,
    };
    let done = upload_files(
        &outgoing.files,
        &manifest.files,
        &bundle_key,
        &destination,
        |done| report(done, false),
    )
    .await?;
    report(done, true);
    browser::yield_to_browser().await;

    let secret = LinkSecret::generate(&mut OsRng);
    let mut otp_salt = [0_u8; 16];
    OsRng.fill_bytes(&mut otp_salt);
    let kdf = KdfParams::CLIENT_V1;
    let keys = crate::crypto::kdf::link_keys(&secret, &outgoing.otp, &otp_salt, &created.id, &kdf)
        .await
        .map_err(|error| SendError::Crypto(error.to_string()))?;
    let guard = wire::LinkGuard::new(
        otp_salt,
        kdf,
        &keys,
        keys.link_key.wrap(&bundle_key, &mut OsRng),
        &bundle_key.receipt_key(),
    );
    api.finalize_send(
        created.id,
        &wire::FinalizeSendRequest {
            guard,
            manifest: sealed_manifest,
        },
    )
    .await?;
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    Ok(Sent {
        id: created.id,
        link: Zeroizing::new(format!(
            "{origin}/l/{}#{}",
            created.id,
            secret.to_fragment().as_str()
        )),
        expires_at: created.expires_at,
    })
}

/// Where encrypted chunks go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A Secure Send bundle, by its logged-in sender.
    Send { api: Box<AuthorizedApi>, id: Id },
    /// A document, by its logged-in uploader or with its upload token.
    Document { id: Id, auth: api::UploadAuth },
}

/// Reads each file slice by slice, pads it with zeros to its stream size (PROTOCOL.md, manifest
/// version 2), encrypts each 1 MiB chunk through WebCrypto under its file key and uploads it to
/// `destination`, several in flight, retrying a failed chunk; only a few chunks are held at
/// once, whatever the file size. Reports bytes of the files stored (padding not counted);
/// answers the total.
pub async fn upload_files(
    files: &[web_sys::File],
    entries: &[ManifestFile],
    bundle_key: &BundleKey,
    destination: &Destination,
    progress: impl Fn(u64),
) -> Result<u64, SendError> {
    let mut done = 0_u64;
    // Reads run ahead of encryption and uploads run behind it, each as its own task, so the
    // disk, WebCrypto and the network work at the same time; a few MiB are held at most.
    let mut uploads = VecDeque::new();
    for (index, (file, entry)) in files.iter().zip(entries).enumerate() {
        let file_index = u32::try_from(index).map_err(|_| SendError::NoFiles)?;
        let mut encryptor = WebChunkEncryptor::new(
            &bundle_key.file_key(file_index),
            &entry.nonce_prefix,
            entry.stream_size(),
        )
        .await
        .map_err(|error| SendError::Crypto(error.to_string()))?;
        let layout = *encryptor.layout();
        let mut reads = VecDeque::new();
        let mut next_read = 0;
        while !encryptor.is_finished() {
            while next_read < layout.chunk_count() && reads.len() < READ_AHEAD {
                let start = u64::from(next_read) * shared::crypto::CHUNK_SIZE as u64;
                let content = entry.content_len(next_read) as u64;
                let length = layout.plaintext_len(next_read) as u64;
                reads.push_back(browser::eager(read_padded(
                    file.clone(),
                    start,
                    content,
                    length,
                )));
                next_read += 1;
            }
            let chunk = encryptor.next_index();
            let plain = match reads.pop_front() {
                Some(read) => read.await.map_err(|_| SendError::Read(file.name()))??,
                None => return Err(SendError::Read(file.name())),
            };
            let sealed = encryptor
                .encrypt_next(&plain)
                .await
                .map_err(|error| SendError::Crypto(error.to_string()))?;
            let length = entry.content_len(chunk) as u64;
            uploads.push_back(browser::eager(upload(
                destination.clone(),
                file_index,
                chunk,
                sealed,
                length,
            )));
            while uploads.len() >= IN_FLIGHT
                && let Some(oldest) = uploads.pop_front()
            {
                done += oldest.await.map_err(|_| SendError::Cancelled)??;
                progress(done);
            }
        }
    }
    while let Some(oldest) = uploads.pop_front() {
        done += oldest.await.map_err(|_| SendError::Cancelled)??;
        progress(done);
    }
    Ok(done)
}

/// Uploads one sealed chunk, retrying what may be passing trouble; answers the bytes of the
/// file it carried.
async fn upload(
    destination: Destination,
    file: u32,
    chunk: u32,
    sealed: Uint8Array,
    plaintext_len: u64,
) -> Result<u64, SendError> {
    let mut attempt = 1;
    loop {
        let outcome = match &destination {
            Destination::Send { api, id } => api.put_chunk(*id, file, chunk, &sealed).await,
            Destination::Document { id, auth } => {
                api::put_document_chunk(auth, *id, file, chunk, &sealed).await
            }
        };
        match outcome {
            Ok(()) => return Ok(plaintext_len),
            Err(error) if error.is_transient() && attempt < CHUNK_TRIES => {
                browser::sleep(250 * 2_i32.pow(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// `content` bytes of `file` from `start`, followed by zeros up to `length` bytes (the chunk's
/// plaintext; a chunk wholly past the end of the file is all zeros and reads nothing).
async fn read_padded(
    file: web_sys::File,
    start: u64,
    content: u64,
    length: u64,
) -> Result<Uint8Array, SendError> {
    if content == length {
        return read_slice(file, start, length).await;
    }
    let failed = || SendError::Read(file.name());
    let padded = Uint8Array::new_with_length(u32::try_from(length).map_err(|_| failed())?);
    if content > 0 {
        padded.set(&read_slice(file, start, content).await?.into(), 0);
    }
    Ok(padded)
}

/// `length` bytes of `file` from `start`, read into JavaScript memory.
async fn read_slice(file: web_sys::File, start: u64, length: u64) -> Result<Uint8Array, SendError> {
    let failed = || SendError::Read(file.name());
    let blob = file
        .slice_with_f64_and_f64(start as f64, (start + length) as f64)
        .map_err(|_| failed())?;
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|_| failed())?;
    let bytes = Uint8Array::new(&buffer);
    if u64::from(bytes.length()) != length {
        return Err(failed());
    }
    Ok(bytes)
}

pub fn file_size(file: &web_sys::File) -> u64 {
    // File sizes are whole numbers of bytes, far below 2^53.
    file.size().max(0.0) as u64
}

/// What a reservation declares for `file`: the bytes its padded stream carries.
pub fn stream_size(file: &web_sys::File) -> u64 {
    shared::crypto::padded_size(file_size(file))
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("files", &self.files.len())
            .field("otp", &self.otp)
            .field("expires_in_seconds", &self.expires_in_seconds)
            .field("max_opens", &self.max_opens)
            .field("invoice", &self.invoice)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sent")
            .field("id", &self.id)
            .field("link", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
