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

use crate::api::{self, AuthorizedApi, UploadAuth};
use crate::crypto::rsa;
use crate::pins::{self, KeyWarning};
use crate::receive::ReceiveError;
use crate::send::{self, Destination, SendError};

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
/// `link_key` as well. Reports plaintext bytes uploaded.
pub async fn provide(
    contents: &Contents,
    created: &wire::DocumentCreated,
    auth: UploadAuth,
    readers: &[(Id, UserPublicKey)],
    link_key: Option<&LinkKey>,
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
    let destination = Destination::Document {
        id: created.id,
        auth: auth.clone(),
    };
    send::upload_files(
        &contents.files,
        &manifest.files,
        &key,
        &destination,
        progress,
    )
    .await?;
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
    let request = wire::FinalizeDocumentRequest {
        readers: wrapped,
        manifest: sealed_manifest,
        link_wrapped_key: link_key.map(|link_key| link_key.wrap(&key, &mut OsRng)),
    };
    Ok(api::finalize_document(&auth, created.id, &request).await?)
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
        (None, Some(token)) => UploadAuth::Token(token.clone()),
        (None, None) => {
            return Err(SendError::Invalid("the relay gave no upload token".to_owned()).into());
        }
    };
    Ok(provide(contents, created, auth, &readers, link_key, progress).await?)
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
