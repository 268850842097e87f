//! Documents wrapped to public keys, in the browser (PROTOCOL.md "Key wrapping", "Requests,
//! Portal, Chart Transfer"): providing one (seal the manifest under a fresh `K`, encrypt and
//! upload the files chunk by chunk, wrap `K` with RSA-OAEP through WebCrypto to each reader
//! whose key was checked, finalize) and opening one (unwrap `K` with the user's private key and
//! open the manifest). Which keys may be used is decided before, by `pins`.

use shared::crypto::{
    BundleKey, LinkKey, Manifest, ManifestFile, OsRng, UserPrivateKey, UserPublicKey,
};
use shared::ids::Id;
use shared::wire;
use zeroize::Zeroizing;

use crate::api::{self, AuthorizedApi, UploadAuth};
use crate::browser;
use crate::crypto::rsa;
use crate::pins::{self, KeyWarning};
use crate::receive::ReceiveError;
use crate::send::{self, Destination, Fingerprints, SendError};

/// What to put in a document.
pub struct Contents {
    pub files: Vec<web_sys::File>,
    pub note: Option<String>,
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contents")
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl Contents {
    /// Each file's size, for people and progress.
    pub fn sizes(&self) -> Vec<u64> {
        self.files.iter().map(send::file_size).collect()
    }

    /// Each file's padded stream size, for the reservation.
    pub fn stream_sizes(&self) -> Vec<u64> {
        self.files.iter().map(send::stream_size).collect()
    }
}

/// Fills the reserved document `created` with `contents`, encrypted to `readers` (the checked
/// keys of exactly the readers the relay named) and, for an authorisation by link, under
/// `link_key` as well. Reports plaintext bytes uploaded. A `resumable` upload is kept in this
/// tab (`interrupted`) until it is finalized, so a reload can go on with it (`resume`).
pub async fn provide(
    contents: &Contents,
    created: &wire::DocumentCreated,
    auth: UploadAuth,
    readers: &[(Id, UserPublicKey)],
    link_key: Option<&LinkKey>,
    resumable: bool,
    progress: impl Fn(u64),
) -> Result<wire::DocumentView, SendError> {
    if contents.files.is_empty() {
        return Err(SendError::NoFiles);
    }
    let key = BundleKey::generate(&mut OsRng);
    let mut entries = Vec::with_capacity(contents.files.len());
    for file in &contents.files {
        let mime = match file.type_() {
            mime if mime.is_empty() => "application/octet-stream".to_owned(),
            mime => mime,
        };
        entries.push(
            ManifestFile::new(file.name(), mime, send::file_size(file), &mut OsRng)
                .map_err(|error| SendError::Invalid(error.to_string()))?,
        );
    }
    let manifest = Manifest::new(
        entries,
        contents.note.clone().filter(|note| !note.trim().is_empty()),
    );
    let sealed_manifest = manifest
        .seal(&key, &mut OsRng)
        .map_err(|error| SendError::Invalid(error.to_string()))?;
    // The key is wrapped to its readers before the upload, so the finalize request is whole
    // before any chunk leaves and a reload can send it.
    let mut wrapped = Vec::with_capacity(readers.len());
    for (user, public) in readers {
        let wrapped_key = rsa::wrap(public, &key)
            .await
            .map_err(|error| SendError::Crypto(error.to_string()))?;
        wrapped.push(wire::ReaderKey {
            user: *user,
            wrapped_key,
        });
    }
    let finalize = wire::FinalizeDocumentRequest {
        readers: wrapped,
        manifest: sealed_manifest,
        link_wrapped_key: link_key.map(|link_key| link_key.wrap(&key, &mut OsRng)),
    };
    if resumable {
        let fingerprints = Fingerprints::of(&contents.files).await?;
        remember(created.id, &auth, &key, &finalize, &fingerprints);
    }
    upload_and_finalize(
        &contents.files,
        &manifest.files,
        &key,
        created.id,
        &auth,
        &[],
        &finalize,
        progress,
    )
    .await
}

/// Uploads what the relay does not hold yet of document `id`, finalizes it and forgets what
/// this tab kept of it.
#[allow(clippy::too_many_arguments)]
async fn upload_and_finalize(
    files: &[web_sys::File],
    entries: &[ManifestFile],
    key: &BundleKey,
    id: Id,
    auth: &UploadAuth,
    stored: &[Vec<u32>],
    finalize: &wire::FinalizeDocumentRequest,
    progress: impl Fn(u64),
) -> Result<wire::DocumentView, SendError> {
    let destination = Destination::Document {
        id,
        auth: auth.clone(),
    };
    send::upload_missing(files, entries, key, &destination, stored, progress).await?;
    let view = api::finalize_document(auth, id, finalize).await?;
    forget_interrupted();
    Ok(view)
}

/// The sessionStorage entry of the document upload this tab has under way.
const UNDER_WAY: &str = "sealpost.document.under-way";

/// Keeps what a reload needs to finish document `id`, in this tab's sessionStorage only (gone
/// with the tab): the page it was made on, the upload token (for an upload by link: it allows
/// only this upload, until the reservation lapses), the bundle key, the finalize request (wrapped
/// keys and sealed manifest, which the relay receives anyway) and each file's fingerprint.
fn remember(
    id: Id,
    auth: &UploadAuth,
    key: &BundleKey,
    finalize: &wire::FinalizeDocumentRequest,
    fingerprints: &Fingerprints,
) {
    let token = match auth {
        UploadAuth::Token(token) => Some(token.as_str()),
        UploadAuth::Session(_) => None,
    };
    let record = serde_json::json!({
        "page": current_page(),
        "id": id,
        "token": token,
        "key": shared::encoding::encode(key.dangerously_expose_bytes().as_slice()),
        "finalize": finalize,
        "fingerprints": fingerprints.record(),
    });
    let text = Zeroizing::new(record.to_string());
    // Without sessionStorage a reload cannot resume; the upload itself goes on.
    let _ = browser::remember_in_tab(UNDER_WAY, &text);
}

/// The page the tab shows (its path), which a kept upload belongs to.
fn current_page() -> String {
    web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_default()
}

/// `remember`'s record, read back.
struct Kept {
    page: String,
    id: Id,
    token: Option<Zeroizing<String>>,
    key: BundleKey,
    manifest: Manifest,
    finalize: wire::FinalizeDocumentRequest,
    fingerprints: Fingerprints,
}

impl Kept {
    fn load() -> Option<Self> {
        let text = Zeroizing::new(browser::recall_in_tab(UNDER_WAY)?);
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        let raw = Zeroizing::new(shared::encoding::decode(record["key"].as_str()?).ok()?);
        let key = BundleKey::dangerously_from_slice(&raw).ok()?;
        let finalize: wire::FinalizeDocumentRequest =
            serde_json::from_value(record["finalize"].clone()).ok()?;
        let manifest = Manifest::open(&key, &finalize.manifest).ok()?;
        let fingerprints =
            Fingerprints::from_record(&record["fingerprints"], manifest.files.len())?;
        let token = match &record["token"] {
            serde_json::Value::Null => None,
            token => Some(Zeroizing::new(token.as_str()?.to_owned())),
        };
        Some(Self {
            page: record["page"].as_str()?.to_owned(),
            id: serde_json::from_value(record["id"].clone()).ok()?,
            token,
            key,
            manifest,
            finalize,
            fingerprints,
        })
    }
}

/// A document upload this tab started on the page it shows and did not finish (the page was
/// reloaded mid-upload), which goes on once the same files are picked again (`resume`).
pub fn interrupted_here() -> Option<send::Interrupted> {
    let kept = Kept::load().filter(|kept| kept.page == current_page())?;
    Some(send::Interrupted::of(kept.id, &kept.manifest))
}

/// Forgets the interrupted upload (the relay drops its chunks when the reservation lapses).
pub fn forget_interrupted() {
    browser::forget_in_tab(UNDER_WAY);
}

/// Goes on with the interrupted upload: checks that `picked` holds every file it carried (see
/// `Fingerprints::find`), asks the relay which chunks it holds, sends only the others and
/// finalizes. An upload by session needs `session`.
pub async fn resume(
    session: Option<AuthorizedApi>,
    picked: &[web_sys::File],
    progress: impl Fn(u64),
) -> Result<wire::DocumentView, SendError> {
    let kept = Kept::load()
        .filter(|kept| kept.page == current_page())
        .ok_or(SendError::NothingToResume)?;
    let files = kept.fingerprints.find(&kept.manifest.files, picked).await?;
    let auth = match (&kept.token, session) {
        (Some(token), _) => UploadAuth::Token(token.to_string()),
        (None, Some(api)) => UploadAuth::Session(Box::new(api)),
        (None, None) => {
            return Err(SendError::Invalid(
                "log in again to go on with this upload".to_owned(),
            ));
        }
    };
    let stored = api::stored_document_chunks(&auth, kept.id).await?;
    upload_and_finalize(
        &files,
        &kept.manifest.files,
        &kept.key,
        kept.id,
        &auth,
        &stored.files,
        &kept.finalize,
        progress,
    )
    .await
}

/// Why filling a reserved document stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvideError {
    /// The keys the relay named failed their check: nothing was uploaded.
    #[error(transparent)]
    Keys(#[from] KeyWarning),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Checks the readers the relay named for `created` with `check` (pins, or a link's digest)
/// and, only if they pass, fills the document (see `provide`). Without `session` the upload
/// uses the reservation's upload token.
pub async fn check_and_provide(
    contents: &Contents,
    created: &wire::DocumentCreated,
    session: Option<AuthorizedApi>,
    check: impl FnOnce(&[wire::KeyHolder]) -> Result<Vec<(Id, UserPublicKey)>, KeyWarning>,
    link_key: Option<&LinkKey>,
    progress: impl Fn(u64),
) -> Result<wire::DocumentView, ProvideError> {
    let readers = check(&created.readers)?;
    let auth = match (session, &created.upload_token) {
        (Some(api), _) => UploadAuth::Session(Box::new(api)),
        (None, Some(token)) => UploadAuth::Token(token.dangerously_expose().to_owned()),
        (None, None) => {
            return Err(SendError::Invalid("the relay gave no upload token".to_owned()).into());
        }
    };
    Ok(provide(contents, created, auth, &readers, link_key, true, progress).await?)
}

/// The pin check for a logged-in user: their own key as in their session, others pinned.
pub fn pinned_for(
    api: &AuthorizedApi,
) -> impl FnOnce(&[wire::KeyHolder]) -> Result<Vec<(Id, UserPublicKey)>, KeyWarning> + use<> {
    let session = api.session();
    let (me, own) = (session.user.id, session.keys.public_key.clone());
    move |holders| pins::check(me, &own, holders)
}

/// A document opened by one of its readers: its key and manifest.
pub struct OpenedDocument {
    pub id: Id,
    pub key: BundleKey,
    pub manifest: Manifest,
}

impl std::fmt::Debug for OpenedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedDocument")
            .field("id", &self.id)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// Fetches the caller's wrapped key, unwraps it with `private` and opens the manifest.
pub async fn open(
    api: &AuthorizedApi,
    id: Id,
    private: &UserPrivateKey,
) -> Result<OpenedDocument, ReceiveError> {
    let answer = api.document_key(id).await?;
    let key = rsa::unwrap(private, &answer.wrapped_key)
        .await
        .map_err(|_| {
            ReceiveError::Integrity(
                "your key does not open this document's key: it was not encrypted to you".into(),
            )
        })?;
    let manifest = Manifest::open(&key, &answer.manifest)
        .map_err(|error| ReceiveError::Integrity(format!("the file list {error}")))?;
    Ok(OpenedDocument { id, key, manifest })
}
