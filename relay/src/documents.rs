//! Documents wrapped to public keys in domain terms (PRODUCT.md flows 3–6, "Limited
//! viewing"): who sees and who reads one (`access`, the one decision), who its readers are
//! (`owner_of`, `intake_readers`, `with_readers`), the keys an uploader encrypts to
//! (`key_holder`), and reserving one (`reserve`). No HTTP here: the endpoints in
//! `api/documents.rs`, `api/requests.rs` and `api/portal.rs` decide which of these apply, and
//! `error.rs` maps a [`DocumentError`] to its answer.

use shared::ids::Id;
use shared::wire::{self, DocumentKind, DocumentStatus, Role};

use crate::authz::Principal;
use crate::store::{DocumentLimits, DocumentRecord, OrgRecord, StorageRefusal, Store, UserRecord};

/// The shortest and longest an RSA-OAEP wrapped key may be (2048 to 4096-bit keys).
const WRAPPED_KEY_BYTES: std::ops::RangeInclusive<usize> = 256..=512;

/// Why a document cannot be reserved (or its readers named).
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The file sizes are not a bundle this relay takes; the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("nobody could read this: the organisation has no keys to encrypt to")]
    NoReaders,
    /// Over the organisation's quota, the intake allowance, or the address's unfinished bytes.
    #[error("the storage allowance refused it")]
    Refused(StorageRefusal),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What a viewer may do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Sees its metadata (a member of an organisation involved).
    pub visible: bool,
    /// Is one of its readers: gets the wrapped key and the ciphertext.
    pub readable: bool,
}

/// The one decision: members of the holding organisation and of the counterpart see a
/// document's metadata; only its readers read it.
pub fn access(viewer: &Principal, document: &DocumentRecord) -> Access {
    let member = viewer.org == document.org || Some(viewer.org) == document.counterpart;
    Access {
        visible: member,
        readable: member && document.expected_readers.contains(&viewer.user),
    }
}

/// What a reservation needs from the endpoint making it.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub kind: DocumentKind,
    pub org: Id,
    pub counterpart: Option<Id>,
    pub uploaded_by: Option<Id>,
    pub request: Option<Id>,
    pub files: Vec<u64>,
    /// Users whose keys wrap it, in the order the uploader is shown them.
    pub readers: Vec<UserRecord>,
    pub expires_in_days: u32,
    pub max_bundle_bytes: u64,
    pub quota_org: Id,
    pub paywall: Option<crate::store::Paywall>,
    /// For an uploader without an account: `Some(their address, if known)`. Their bytes count
    /// against the intake allowances, never the organisation's sending quota.
    pub anonymous: Option<Option<String>>,
}

/// Reserves a document at `now` within `limits`: checks sizes and quota, stores it, and
/// answers its id, the reader keys and (for an uploader without an account) a fresh upload
/// token.
pub async fn reserve(
    store: &Store,
    now: i64,
    limits: &DocumentLimits,
    reservation: Reservation,
) -> Result<(DocumentRecord, wire::DocumentCreated), DocumentError> {
    let sealed_bytes =
        crate::bundles::sealed_size(&reservation.files).map_err(DocumentError::Invalid)?;
    if sealed_bytes > reservation.max_bundle_bytes {
        return Err(DocumentError::Invalid(format!(
            "these files are {sealed_bytes} bytes once encrypted; at most {} bytes are accepted here",
            reservation.max_bundle_bytes
        )));
    }
    if reservation.readers.is_empty() {
        return Err(DocumentError::NoReaders);
    }
    let token = reservation.uploaded_by.is_none().then(crate::tokens::mint);
    let readers = reservation
        .readers
        .iter()
        .map(|user| key_holder(store, user))
        .collect::<Result<Vec<_>, _>>()?;
    let document = DocumentRecord {
        id: Id::generate(&mut shared::crypto::OsRng),
        kind: reservation.kind,
        org: reservation.org,
        counterpart: reservation.counterpart,
        uploaded_by: reservation.uploaded_by,
        request: reservation.request,
        created_at: now,
        expires_at: now + i64::from(reservation.expires_in_days.max(1)) * 86_400,
        files: reservation.files,
        sealed_bytes,
        quota_org: reservation.quota_org,
        state: DocumentStatus::Uploading,
        expected_readers: reservation.readers.iter().map(|user| user.id).collect(),
        legacy_readers: Vec::new(),
        legacy_manifest: None,
        legacy_link_wrapped_key: None,
        anonymous: reservation.anonymous.is_some(),
        uploader_ip: reservation.anonymous.clone().flatten(),
        upload_token_hash: token.as_ref().map(|token| token.hash),
        paywall: reservation.paywall,
        opened_at: None,
        ended_at: None,
    };
    store
        .create_document(&document, limits)
        .await?
        .map_err(DocumentError::Refused)?;
    let created = wire::DocumentCreated {
        id: document.id,
        expires_at: document.expires_at,
        readers,
        upload_token: token.map(|token| token.text),
    };
    Ok((document, created))
}

/// A user as a key to encrypt to.
pub fn key_holder(store: &Store, user: &UserRecord) -> Result<wire::KeyHolder, DocumentError> {
    let org = store.org(user.org)?.ok_or(DocumentError::NotFound)?;
    Ok(wire::KeyHolder {
        user: user.id,
        name: user.name.clone(),
        email: user.email.clone(),
        organisation: org.name.clone(),
        handle: org.handle.clone(),
        role: user.role,
        intake: org.intake.contains(&user.id),
        public_key: user.public_key.clone(),
    })
}

/// The owner of `org` (every organisation has exactly one).
pub fn owner_of(store: &Store, org: Id) -> Result<UserRecord, DocumentError> {
    store
        .users_of_org(org)?
        .into_iter()
        .find(|user| user.role == Role::Owner)
        .ok_or_else(|| DocumentError::Store(anyhow::anyhow!("an organisation has no owner")))
}

/// `org`'s owner and intake users: who reads what arrives through its portal or by transfer.
pub fn intake_readers(store: &Store, org: &OrgRecord) -> Result<Vec<UserRecord>, DocumentError> {
    let mut readers = Vec::new();
    for user in store.users_of_org(org.id)? {
        if user.role == Role::Owner || org.intake.contains(&user.id) {
            readers.push(user);
        }
    }
    readers.sort_by_key(|user| user.role != Role::Owner);
    Ok(readers)
}

/// Adds `more` to `readers`, skipping anyone already there.
pub fn with_readers(mut readers: Vec<UserRecord>, more: Vec<UserRecord>) -> Vec<UserRecord> {
    for user in more {
        if !readers.iter().any(|known| known.id == user.id) {
            readers.push(user);
        }
    }
    readers
}

/// Checks a finalize of `document` before anything is stored: the keys wrap `K` to exactly
/// the readers named at the reservation, each wrapped key and the sealed manifest have
/// plausible sizes, and a link-wrapped key comes exactly when the document is the
/// authorisation of a request by link.
pub fn check_finalize(
    store: &Store,
    document: &DocumentRecord,
    request: &wire::FinalizeDocumentRequest,
) -> Result<(), DocumentError> {
    let invalid = |message: &str| Err(DocumentError::Invalid(message.to_owned()));
    let mut given: Vec<Id> = request.readers.iter().map(|reader| reader.user).collect();
    given.sort();
    let mut expected = document.expected_readers.clone();
    expected.sort();
    if given != expected {
        return invalid(
            "the document must be encrypted to exactly the readers the relay named when it was reserved",
        );
    }
    if request
        .readers
        .iter()
        .any(|reader| !WRAPPED_KEY_BYTES.contains(&reader.wrapped_key.len()))
    {
        return invalid("a wrapped key must be an RSA-OAEP ciphertext of 256 to 512 bytes");
    }
    match (&request.link_wrapped_key, needs_link_key(store, document)?) {
        (Some(wrapped), true) if wrapped.len() == 12 + 32 + 16 => {}
        (None, false) => {}
        (Some(_), true) => {
            return invalid("the link-wrapped key must be 60 bytes (nonce, key, tag)");
        }
        (None, true) => {
            return invalid(
                "an authorisation for a request by link needs its key wrapped for the link",
            );
        }
        (Some(_), false) => {
            return invalid(
                "only an authorisation for a request by link carries a link-wrapped key",
            );
        }
    }
    if request.manifest.len() < 12 + 16 {
        return invalid("the sealed manifest is too short");
    }
    Ok(())
}

/// Whether finalize needs a link-wrapped key: an authorisation of a request by link.
fn needs_link_key(store: &Store, document: &DocumentRecord) -> anyhow::Result<bool> {
    if document.kind != DocumentKind::Authorization {
        return Ok(false);
    }
    let request = document
        .request
        .and_then(|id| store.request(id).transpose())
        .transpose()?;
    Ok(request.is_some_and(|request| request.target_org().is_none()))
}
