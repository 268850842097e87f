//! Secure Send in the browser (PROTOCOL.md "Documents" and "Links"): draws the bundle key, seals
//! the manifest (names, types, sizes, note), reserves the bundle, then reads each file in 8 MiB
//! slices, encrypts each 1 MiB chunk through WebCrypto and uploads it, several in flight, retrying
//! a failed chunk, and pausing while the relay cannot be reached (it goes on by itself, sending no
//! chunk that arrived again); only a few slices and chunks (about 30 MiB) are held at once,
//! whatever the file size, each released as soon as it is done with (`browser::release`). The link
//! keys (from a fresh link secret and the OTP) and the guard are made before the upload and kept,
//! with the bundle key, in the tab's sessionStorage until the finalize, so that a send a reload
//! interrupted goes on once the sender picks the same files again (`resume`: size, time of change
//! and first-MiB SHA-256 checked, only the chunks the relay lacks sent). The OTP and every
//! plaintext stay in this browser.

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
use crate::crypto::stream::WebChunkEncryptor;
use crate::{browser, connectivity};

pub use shared::crypto::otp::{MIN_OTP_CHARS, generate_otp};
/// Chunks uploading at once: enough to hide each request's latency, few enough to keep memory
/// at a handful of MiB.
const IN_FLIGHT: usize = 6;
/// Chunks read from the file in one slice: one 8 MiB read costs the browser far less than eight
/// of 1 MiB (the send bench, Chromium: 635 against 352 MiB/s of reads alone, and the whole
/// pipeline 91 against 80 MiB/s).
const READ_RUN: u32 = 8;
/// Slices read ahead of encryption.
const READ_AHEAD: usize = 2;
/// The shortest time between two progress reports of an upload.
const PROGRESS_EVERY_MS: f64 = 100.0;
/// Quick tries per chunk before the upload waits for the relay to answer again
/// (`connectivity::wait_for_relay`) and then goes on.
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
    #[error("there is no interrupted upload to go on with")]
    NothingToResume,
    #[error(
        "“{0}” is not among the files you picked, or it changed since (its size, first part or time of change differs): pick the same files that were being sent"
    )]
    NotTheSameFile(String),
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

    // The link's keys and guard are made before the upload, so that everything needed to
    // finish is known and can be kept for a reload (`Interrupted`).
    let secret = LinkSecret::generate(&mut OsRng);
    let guard = link_guard(&bundle_key, &secret, &outgoing.otp, created.id).await?;
    let finalize = wire::FinalizeSendRequest {
        guard,
        manifest: sealed_manifest,
    };
    let fingerprints = Fingerprints::of(&outgoing.files).await?;
    remember(&UnderWay {
        id: created.id,
        expires_at: created.expires_at,
        bundle_key: &bundle_key,
        finalize: &finalize,
        fragment: &secret.to_fragment(),
        fingerprints: &fingerprints,
    });
    upload_and_finalize(
        api,
        &outgoing.files,
        &manifest.files,
        &bundle_key,
        (created.id, created.expires_at),
        &[],
        finalize,
        &secret.to_fragment(),
        progress,
    )
    .await
}

/// A send this tab started and did not finish (the page was reloaded or crashed mid-upload),
/// which goes on once the sender picks the same files again (`resume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub id: Id,
    /// Each file's name and size, in the order they were sent.
    pub files: Vec<(String, u64)>,
}

impl Interrupted {
    /// Bundle `id`, carrying the files of `manifest`.
    pub(crate) fn of(id: Id, manifest: &Manifest) -> Self {
        Self {
            id,
            files: manifest
                .files
                .iter()
                .map(|file| (file.name.clone(), file.size))
                .collect(),
        }
    }
}

/// The send this tab has under way, if a reload interrupted one.
pub fn interrupted() -> Option<Interrupted> {
    let kept = Kept::load()?;
    Some(Interrupted::of(kept.id, &kept.manifest))
}

/// Forgets the interrupted send (the relay drops its chunks when the reservation lapses).
pub fn forget_interrupted() {
    browser::forget_in_tab(UNDER_WAY);
}

/// Goes on with the interrupted send: checks that `picked` holds every file it carried (the
/// same size and the same first chunk, by SHA-256), asks the relay which chunks it holds, sends
/// only the others, and finalizes.
pub async fn resume(
    api: &AuthorizedApi,
    picked: &[web_sys::File],
    progress: impl Fn(Progress),
) -> Result<Sent, SendError> {
    let kept = Kept::load().ok_or(SendError::NothingToResume)?;
    let files = kept.fingerprints.find(&kept.manifest.files, picked).await?;
    let stored = api.stored_chunks(kept.id).await?;
    upload_and_finalize(
        api,
        &files,
        &kept.manifest.files,
        &kept.bundle_key,
        (kept.id, kept.expires_at),
        &stored.files,
        kept.finalize,
        &kept.fragment,
        progress,
    )
    .await
}

/// Uploads what the relay does not hold yet, finalizes, forgets the kept state, and answers
/// the link.
#[allow(clippy::too_many_arguments)]
async fn upload_and_finalize(
    api: &AuthorizedApi,
    files: &[web_sys::File],
    entries: &[ManifestFile],
    bundle_key: &BundleKey,
    (id, expires_at): (Id, i64),
    stored: &[Vec<u32>],
    finalize: wire::FinalizeSendRequest,
    fragment: &str,
    progress: impl Fn(Progress),
) -> Result<Sent, SendError> {
    let total: u64 = entries.iter().map(|file| file.size).sum();
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
        id,
    };
    let done = upload_missing(files, entries, bundle_key, &destination, stored, |done| {
        report(done, false)
    })
    .await?;
    report(done, true);
    browser::yield_to_browser().await;
    api.finalize_send(id, &finalize).await?;
    forget_interrupted();
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    Ok(Sent {
        id,
        link: Zeroizing::new(format!("{origin}/l/{id}#{fragment}")),
        expires_at,
    })
}

/// The link guard for bundle `id`: the OTP and the link secret through argon2id, the bundle
/// key wrapped to the link, the receipt key.
async fn link_guard(
    bundle_key: &BundleKey,
    secret: &LinkSecret,
    otp: &Passphrase,
    id: Id,
) -> Result<wire::LinkGuard, SendError> {
    let mut otp_salt = [0_u8; 16];
    OsRng.fill_bytes(&mut otp_salt);
    let kdf = KdfParams::CLIENT_V1;
    let keys = crate::crypto::kdf::link_keys(secret, otp, &otp_salt, &id, &kdf)
        .await
        .map_err(|error| SendError::Crypto(error.to_string()))?;
    Ok(wire::LinkGuard::new(
        otp_salt,
        kdf,
        &keys,
        keys.link_key.wrap(bundle_key, &mut OsRng),
        &bundle_key.receipt_key(),
    ))
}

/// How each file of an upload under way is recognised when it is picked again after a reload:
/// its size (in the manifest), its modification time and the SHA-256 of its first chunk (its
/// first MiB, or all of a smaller file).
pub(crate) struct Fingerprints {
    first_chunks: Vec<Vec<u8>>,
    /// Each file's `lastModified` (milliseconds).
    modified: Vec<f64>,
}

impl Fingerprints {
    pub(crate) async fn of(files: &[web_sys::File]) -> Result<Self, SendError> {
        let mut first_chunks = Vec::with_capacity(files.len());
        for file in files {
            first_chunks.push(first_chunk_digest(file).await?);
        }
        Ok(Self {
            first_chunks,
            modified: files.iter().map(web_sys::File::last_modified).collect(),
        })
    }

    /// The files of `picked` that are the files of `entries`, in their order; the first one
    /// missing is `NotTheSameFile`. The same size, first MiB and modification time: a chunk that
    /// was encrypted before the reload but not confirmed is encrypted again under its same
    /// nonce, which must then meet the same plaintext (a file edited in between would break
    /// AES-GCM's one rule).
    pub(crate) async fn find(
        &self,
        entries: &[ManifestFile],
        picked: &[web_sys::File],
    ) -> Result<Vec<web_sys::File>, SendError> {
        let mut digests = Vec::with_capacity(picked.len());
        for file in picked {
            digests.push(first_chunk_digest(file).await?);
        }
        let mut files = Vec::with_capacity(entries.len());
        let kept = self.first_chunks.iter().zip(&self.modified);
        for (entry, (first, modified)) in entries.iter().zip(kept) {
            let found = picked.iter().zip(&digests).find(|(file, digest)| {
                file_size(file) == entry.size
                    && *digest == first
                    && file.last_modified() == *modified
            });
            match found {
                Some((file, _)) => files.push(file.clone()),
                None => return Err(SendError::NotTheSameFile(entry.name.clone())),
            }
        }
        Ok(files)
    }

    /// Its fields in a kept JSON record.
    pub(crate) fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "first_chunks": self
                .first_chunks
                .iter()
                .map(|digest| shared::encoding::encode(digest))
                .collect::<Vec<_>>(),
            "modified": self.modified,
        })
    }

    /// Read back from `record`, for `files` files.
    pub(crate) fn from_record(record: &serde_json::Value, files: usize) -> Option<Self> {
        let first_chunks = record["first_chunks"]
            .as_array()?
            .iter()
            .map(|digest| shared::encoding::decode(digest.as_str()?).ok())
            .collect::<Option<Vec<_>>>()?;
        let modified = record["modified"]
            .as_array()?
            .iter()
            .map(serde_json::Value::as_f64)
            .collect::<Option<Vec<_>>>()?;
        (first_chunks.len() == files && modified.len() == files).then_some(Self {
            first_chunks,
            modified,
        })
    }
}

/// SHA-256 of a file's first chunk.
async fn first_chunk_digest(file: &web_sys::File) -> Result<Vec<u8>, SendError> {
    let length = file_size(file).min(shared::crypto::CHUNK_SIZE as u64);
    let bytes = read_slice(file.clone(), 0, length).await?;
    crate::crypto::sha256(&bytes)
        .await
        .map_err(|error| SendError::Crypto(error.to_string()))
}

/// The sessionStorage entry of the send this tab has under way.
const UNDER_WAY: &str = "sealpost.send.under-way";

/// What `send` keeps while it uploads, in this tab's sessionStorage only (gone with the tab):
/// the bundle key, the finalize request (guard and sealed manifest), the link's fragment (the
/// OTP itself is not kept), and each file's first-chunk digest. It is what the link will show
/// anyway, and nothing in it leaves the browser but what the relay receives at finalize.
struct UnderWay<'a> {
    id: Id,
    expires_at: i64,
    bundle_key: &'a BundleKey,
    finalize: &'a wire::FinalizeSendRequest,
    fragment: &'a str,
    fingerprints: &'a Fingerprints,
}

/// `UnderWay`, read back after a reload.
struct Kept {
    id: Id,
    expires_at: i64,
    bundle_key: BundleKey,
    manifest: Manifest,
    finalize: wire::FinalizeSendRequest,
    fragment: Zeroizing<String>,
    fingerprints: Fingerprints,
}

fn remember(under_way: &UnderWay<'_>) {
    let record = serde_json::json!({
        "id": under_way.id,
        "expires_at": under_way.expires_at,
        "key": shared::encoding::encode(under_way.bundle_key.dangerously_expose_bytes().as_slice()),
        "finalize": under_way.finalize,
        "fragment": under_way.fragment,
        "fingerprints": under_way.fingerprints.record(),
    });
    let text = Zeroizing::new(record.to_string());
    // Without sessionStorage a reload cannot resume; the send itself goes on.
    let _ = browser::remember_in_tab(UNDER_WAY, &text);
}

impl Kept {
    fn load() -> Option<Self> {
        let text = Zeroizing::new(browser::recall_in_tab(UNDER_WAY)?);
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        let key = Zeroizing::new(shared::encoding::decode(record["key"].as_str()?).ok()?);
        let bundle_key = BundleKey::dangerously_from_slice(&key).ok()?;
        let finalize: wire::FinalizeSendRequest =
            serde_json::from_value(record["finalize"].clone()).ok()?;
        let manifest = Manifest::open(&bundle_key, &finalize.manifest).ok()?;
        let fingerprints =
            Fingerprints::from_record(&record["fingerprints"], manifest.files.len())?;
        Some(Self {
            id: serde_json::from_value(record["id"].clone()).ok()?,
            expires_at: record["expires_at"].as_i64()?,
            bundle_key,
            manifest,
            finalize,
            fragment: Zeroizing::new(record["fragment"].as_str()?.to_owned()),
            fingerprints,
        })
    }
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
/// `destination`, several in flight, retrying a failed chunk and waiting while the relay cannot
/// be reached; only a few chunks are held at once, whatever the file size. The chunks the relay
/// already holds (`stored[file]`, ascending chunk indices: an interrupted upload going on) are
/// neither read, nor encrypted, nor sent, and count as done. Reports bytes of the files stored
/// (padding not counted); answers the total.
pub async fn upload_missing(
    files: &[web_sys::File],
    entries: &[ManifestFile],
    bundle_key: &BundleKey,
    destination: &Destination,
    stored: &[Vec<u32>],
    progress: impl Fn(u64),
) -> Result<u64, SendError> {
    let mut done = 0_u64;
    // The progress line is redrawn at most every PROGRESS_EVERY_MS, and once at the end: a
    // redraw for every MiB is more than anyone reads (or a screen reader should announce),
    // and each is work on the main thread the upload shares.
    let mut last_report = f64::NEG_INFINITY;
    let mut progress = |done: u64, last: bool| {
        let now = browser::now_ms();
        if last || now - last_report >= PROGRESS_EVERY_MS {
            last_report = now;
            progress(done);
        }
    };
    // Reads run ahead of encryption and uploads run behind it, each as its own task, so the
    // disk, WebCrypto and the network work at the same time; about 30 MiB are held at most
    // (READ_AHEAD slices, the one being encrypted, IN_FLIGHT sealed chunks).
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
        let held = stored.get(index).map_or(&[][..], Vec::as_slice);
        let is_held = |chunk: u32| held.binary_search(&chunk).is_ok();
        // Reads of runs of chunks the relay lacks, and the plaintexts of the run being
        // encrypted, in chunk order.
        let mut reads = VecDeque::new();
        let mut read = VecDeque::new();
        let mut next_read = 0;
        while !encryptor.is_finished() {
            let chunk = encryptor.next_index();
            if is_held(chunk) {
                encryptor
                    .skip()
                    .map_err(|error| SendError::Crypto(error.to_string()))?;
                done += entry.content_len(chunk) as u64;
                progress(done, false);
                continue;
            }
            while next_read < layout.chunk_count() && reads.len() < READ_AHEAD {
                if is_held(next_read) {
                    next_read += 1;
                    continue;
                }
                let first = next_read;
                let mut pieces = Vec::new();
                while next_read < layout.chunk_count()
                    && !is_held(next_read)
                    && next_read - first < READ_RUN
                {
                    pieces.push((
                        entry.content_len(next_read) as u64,
                        layout.plaintext_len(next_read) as u64,
                    ));
                    next_read += 1;
                }
                let start = u64::from(first) * shared::crypto::CHUNK_SIZE as u64;
                reads.push_back(browser::eager(read_run(file.clone(), start, pieces)));
            }
            if read.is_empty() {
                read = match reads.pop_front() {
                    Some(run) => run.await.map_err(|_| SendError::Read(file.name()))??,
                    None => return Err(SendError::Read(file.name())),
                };
            }
            let plain = read
                .pop_front()
                .ok_or_else(|| SendError::Read(file.name()))?;
            let sealed = encryptor
                .encrypt_next(&plain)
                .await
                .map_err(|error| SendError::Crypto(error.to_string()))?;
            if read.is_empty() {
                // Every chunk of the slice is encrypted (WebCrypto copied each): its memory
                // goes now, not at a collection that may come a gigabyte later.
                browser::release(&plain);
            }
            let pending = PendingChunk {
                file: file_index,
                chunk,
                sealed,
                plaintext_len: entry.content_len(chunk) as u64,
            };
            uploads.push_back(browser::eager(upload(destination.clone(), pending)));
            while uploads.len() >= IN_FLIGHT {
                done += settle_oldest(&mut uploads, destination).await?;
                progress(done, false);
            }
        }
    }
    while !uploads.is_empty() {
        done += settle_oldest(&mut uploads, destination).await?;
        progress(done, false);
    }
    progress(done, true);
    Ok(done)
}

/// A sealed chunk on its way to the relay.
struct PendingChunk {
    file: u32,
    chunk: u32,
    sealed: Uint8Array,
    /// Bytes of the file it carries (padding not counted).
    plaintext_len: u64,
}

/// Why a chunk did not arrive.
enum ChunkFailure {
    /// The relay could not be reached, even after a few quick tries: the same sealed bytes go
    /// again once it answers (re-encrypting is not needed, and a chunk stored twice is
    /// harmless: the relay replaces it).
    Unreachable(PendingChunk),
    /// The relay refused it: the send stops with its reason.
    Refused(SendError),
}

type Uploading = futures::channel::oneshot::Receiver<Result<u64, ChunkFailure>>;

/// Waits for the oldest upload in flight; answers the file bytes it stored. One that lost the
/// relay is started again (first in line) once the relay answers, and answers 0: chunks that
/// had arrived are never sent again.
async fn settle_oldest(
    uploads: &mut VecDeque<Uploading>,
    destination: &Destination,
) -> Result<u64, SendError> {
    let Some(oldest) = uploads.pop_front() else {
        return Ok(0);
    };
    match oldest.await.map_err(|_| SendError::Cancelled)? {
        Ok(stored) => Ok(stored),
        Err(ChunkFailure::Refused(error)) => Err(error),
        Err(ChunkFailure::Unreachable(pending)) => {
            connectivity::wait_for_relay().await;
            uploads.push_front(browser::eager(upload(destination.clone(), pending)));
            Ok(0)
        }
    }
}

/// Uploads one sealed chunk, retrying what may be passing trouble a few times; answers the
/// bytes of the file it carried.
async fn upload(destination: Destination, pending: PendingChunk) -> Result<u64, ChunkFailure> {
    let PendingChunk {
        file,
        chunk,
        ref sealed,
        plaintext_len,
    } = pending;
    let mut attempt = 1;
    loop {
        let outcome = match &destination {
            Destination::Send { api, id } => api.put_chunk(*id, file, chunk, sealed).await,
            Destination::Document { id, auth } => {
                api::put_document_chunk(auth, *id, file, chunk, sealed).await
            }
        };
        match outcome {
            Ok(()) => {
                browser::release(sealed);
                return Ok(plaintext_len);
            }
            Err(error) if error.is_transient() && attempt < CHUNK_TRIES => {
                browser::sleep(250 * 2_i32.pow(attempt)).await;
                attempt += 1;
            }
            Err(error) if error.is_unreachable() => {
                return Err(ChunkFailure::Unreachable(pending));
            }
            Err(error) => return Err(ChunkFailure::Refused(error.into())),
        }
    }
}

/// The plaintexts of consecutive chunks from `start` of `file`, read in one slice: each of
/// `pieces` is a chunk's (bytes of the file, plaintext length); a chunk shorter in the file
/// than its plaintext is followed by zeros (a chunk wholly past the end is all zeros).
async fn read_run(
    file: web_sys::File,
    start: u64,
    pieces: Vec<(u64, u64)>,
) -> Result<VecDeque<Uint8Array>, SendError> {
    let failed = || SendError::Read(file.name());
    let content: u64 = pieces.iter().map(|(content, _)| content).sum();
    let bytes = match content {
        0 => Uint8Array::new_with_length(0),
        _ => read_slice(file.clone(), start, content).await?,
    };
    let mut plaintexts = VecDeque::with_capacity(pieces.len());
    let mut at = 0_u32;
    for (content, length) in pieces {
        let content = u32::try_from(content).map_err(|_| failed())?;
        let length = u32::try_from(length).map_err(|_| failed())?;
        let piece = bytes.subarray(at, at + content);
        at += content;
        if content == length {
            plaintexts.push_back(piece);
        } else {
            let padded = Uint8Array::new_with_length(length);
            padded.set(&piece, 0);
            plaintexts.push_back(padded);
        }
    }
    Ok(plaintexts)
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
