//! Secure Send from the command line (PROTOCOL.md "Secure Send over HTTP"), as the browser does
//! it: a fresh bundle key and link secret, the manifest (names, types, sizes) sealed, each file
//! read, padded and encrypted chunk by chunk and uploaded with a few chunks in flight, so memory
//! stays a few MiB whatever the file size; then the guard (from the OTP, through argon2id) and
//! the sealed manifest in the finalize. The relay sees sizes rounded up, never a name, the OTP,
//! the link secret or a byte of content.

use std::path::PathBuf;

use anyhow::Context as _;
use futures::StreamExt as _;
use shared::crypto::kdf::KdfParams;
use shared::crypto::{
    BundleKey, ChunkEncryptor, LinkSecret, Manifest, ManifestFile, OsRng, Passphrase,
    derive_link_keys,
};
use shared::ids::Id;
use shared::wire;
use tokio::io::AsyncReadExt as _;
use zeroize::Zeroizing;

use crate::http::Relay;
use crate::progress::Progress;

/// Chunks uploading at once: enough to hide each request's round trip (and the relay's fsync),
/// few enough to keep a handful of MiB in memory.
pub const IN_FLIGHT: usize = 4;

/// A file to send: where it is and the name the recipient sees.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
}

impl Outgoing {
    /// `path`, which must be a readable regular file.
    pub fn at(path: PathBuf) -> anyhow::Result<Self> {
        let metadata =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(metadata.is_file(), "{} is not a file", path.display());
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .with_context(|| format!("{} has no file name", path.display()))?;
        Ok(Self {
            path,
            name,
            size: metadata.len(),
        })
    }
}

/// A send's terms.
#[derive(Debug)]
pub struct Terms {
    pub expires_in_seconds: i64,
    pub max_opens: u32,
    pub invoice: Option<wire::InvoiceTerms>,
    pub recipient_email: Option<String>,
    pub note: Option<String>,
}

/// The link made.
pub struct Made {
    pub id: Id,
    /// `<relay>/l/<id>#<secret>`: the whole link, secret included.
    pub link: Zeroizing<String>,
    pub view: wire::SendView,
}

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Made")
            .field("id", &self.id)
            .field("link", &"<secret>")
            .finish_non_exhaustive()
    }
}

/// Encrypts and uploads `files` as one send under `otp`.
pub async fn send(
    relay: &Relay,
    files: &[Outgoing],
    otp: &str,
    terms: Terms,
    progress: &Progress,
) -> anyhow::Result<Made> {
    anyhow::ensure!(!files.is_empty(), "name at least one file to send");
    anyhow::ensure!(
        otp.chars().count() >= shared::crypto::otp::MIN_OTP_CHARS,
        "the one-time password must be at least {} characters",
        shared::crypto::otp::MIN_OTP_CHARS
    );
    let key = BundleKey::generate(&mut OsRng);
    let mut entries = Vec::new();
    for file in files {
        entries.push(ManifestFile::new(
            file.name.clone(),
            mime_of(&file.name).to_owned(),
            file.size,
            &mut OsRng,
        )?);
    }
    let created: wire::CreateSendResponse = relay
        .post(
            "/api/sends",
            &wire::CreateSendRequest {
                files: entries.iter().map(ManifestFile::stream_size).collect(),
                expires_in_seconds: terms.expires_in_seconds,
                max_opens: terms.max_opens,
                recipient_email: terms.recipient_email,
                invoice: terms.invoice,
            },
        )
        .await
        .context("reserving the send")?;
    progress.start(entries.iter().map(ManifestFile::stream_size).sum());
    let prefix = format!("/api/sends/{}", created.id);
    upload(relay, &prefix, &key, files, &entries, progress).await?;

    // argon2id (64 MiB, about a second) off the async threads.
    let secret = LinkSecret::generate(&mut OsRng);
    let salt = {
        let mut salt = [0_u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
        salt
    };
    let otp = Passphrase::new(otp.to_owned());
    let id = created.id;
    let link_secret = LinkSecret::dangerously_from_bytes(*secret.dangerously_expose_bytes());
    let keys = tokio::task::spawn_blocking(move || {
        derive_link_keys(&link_secret, &otp, &salt, &id, &KdfParams::CLIENT_V1)
    })
    .await??;
    let guard = wire::LinkGuard::new(
        salt,
        KdfParams::CLIENT_V1,
        &keys,
        keys.link_key.wrap(&key, &mut OsRng),
        &key.receipt_key(),
    );
    let manifest = Manifest::new(entries, terms.note).seal(&key, &mut OsRng)?;
    let view: wire::SendView = relay
        .post(
            &format!("{prefix}/finalize"),
            &wire::FinalizeSendRequest { guard, manifest },
        )
        .await
        .context("finalizing the send")?;
    progress.finish();
    Ok(Made {
        id,
        link: Zeroizing::new(format!(
            "{}/l/{id}#{}",
            relay.base(),
            secret.to_fragment().as_str()
        )),
        view,
    })
}

/// Pads, encrypts and `PUT`s every chunk of `files` to `<prefix>/files/{f}/chunks/{n}`, with
/// `IN_FLIGHT` chunks on their way at once.
pub async fn upload(
    relay: &Relay,
    prefix: &str,
    key: &BundleKey,
    files: &[Outgoing],
    entries: &[ManifestFile],
    progress: &Progress,
) -> anyhow::Result<()> {
    let mut in_flight = futures::stream::FuturesUnordered::new();
    for (index, (file, entry)) in files.iter().zip(entries).enumerate() {
        let file_index = u32::try_from(index)?;
        let mut reader = tokio::fs::File::open(&file.path)
            .await
            .with_context(|| format!("opening {}", file.path.display()))?;
        // The file opened is the one measured, and it must not change while it is read: its
        // size and time of change are compared at the end (the manifest names its size).
        let before = reader.metadata().await?;
        let changed = || format!("{} changed while it was sent", file.path.display());
        anyhow::ensure!(before.len() == file.size, changed());
        let mut encryptor = ChunkEncryptor::new(
            &key.file_key(file_index),
            &entry.nonce_prefix,
            entry.stream_size(),
        )?;
        let mut content = Zeroizing::new(Vec::new());
        while !encryptor.is_finished() {
            let chunk = encryptor.next_index();
            content.resize(entry.content_len(chunk), 0);
            reader
                .read_exact(&mut content)
                .await
                .with_context(changed)?;
            let sealed = encryptor.encrypt_next(&entry.pad_chunk(chunk, &content)?)?;
            let body = bytes_of(sealed);
            let length = body.len() as u64;
            let path = format!("{prefix}/files/{file_index}/chunks/{chunk}");
            in_flight.push(async move {
                relay
                    .with_retries(|| {
                        relay
                            .request(reqwest::Method::PUT, &path)
                            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                            .body(body.clone())
                    })
                    .await
                    .with_context(|| format!("uploading chunk {chunk} of file {file_index}"))?;
                anyhow::Ok(length)
            });
            if in_flight.len() >= IN_FLIGHT
                && let Some(done) = in_flight.next().await
            {
                progress.advance(done?);
            }
        }
        // The file must not have grown either: what was sent is what the manifest says.
        let mut probe = [0_u8; 1];
        let after = reader.metadata().await?;
        anyhow::ensure!(
            reader.read(&mut probe).await? == 0
                && after.len() == before.len()
                && after.modified().ok() == before.modified().ok(),
            changed()
        );
    }
    while let Some(done) = in_flight.next().await {
        progress.advance(done?);
    }
    Ok(())
}

fn bytes_of(sealed: shared::crypto::SealedChunk) -> bytes::Bytes {
    bytes::Bytes::from(sealed.into_bytes())
}

/// The media type the recipient's browser is told, from the name's extension.
pub fn mime_of(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xml" => "application/xml",
        "json" => "application/json",
        "dcm" => "application/dicom",
        _ => "application/octet-stream",
    }
}
