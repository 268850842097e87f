//! Wire types of documents wrapped to public keys (PRODUCT.md flows 3–6): requests (to another
//! organisation or to anyone by link) and their fulfilment, the portal, chart transfers, the
//! inbox and limited viewing. A document is a bundle (chunks as for Secure Send) whose `K` is
//! wrapped with RSA-OAEP to each reader's public key; the relay checks the reader list against
//! its rules and serves ciphertext only to those readers. Sizes, names of organisations,
//! descriptions and due dates are relay-visible; file names, notes and contents are sealed.

use serde::{Deserialize, Serialize};

use super::{InvoiceTerms, InvoiceView, Role};
use crate::crypto::{LinkVerifier, LinkWrappedKey, SealedManifest, UserWrappedKey};
use crate::ids::Id;
use crate::secret::SecretString;

/// Longest request description, in characters.
pub const MAX_REQUEST_DESCRIPTION_CHARS: usize = 2000;

/// A key the browser must encrypt to: whose it is and the SPKI bytes. Browsers pin keys by
/// `handle` and `email` (an identity the relay cannot mint without a new reader showing), not
/// by `user`, which the relay chooses.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHolder {
    pub user: Id,
    pub name: String,
    /// The holder's address.
    pub email: String,
    pub organisation: String,
    /// The organisation's handle.
    pub handle: String,
    pub role: Role,
    /// Whether the user is one of the organisation's intake users.
    #[serde(default)]
    pub intake: bool,
    /// SPKI DER.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::bytes")]
    pub public_key: Vec<u8>,
}

/// `K` wrapped to one reader.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderKey {
    pub user: Id,
    pub wrapped_key: UserWrappedKey,
}

/// What kind of document it is, and so who reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Uploaded to fulfil a request: read by the requester and their owner.
    Fulfilment,
    /// A request's authorisation (e.g. a signed consent): read by the provider, and by the
    /// requester and their owner.
    Authorization,
    /// Dropped through an organisation's portal: read by its owner and intake users.
    Portal,
    /// Sent firm to firm: read by the receiving owner and intake users, and by the sender and
    /// the sender's owner (their copy).
    Transfer,
}

/// Where a document stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    Uploading,
    Ready,
    /// Past its expiry: keys and ciphertext are deleted.
    Expired,
    /// Withdrawn by its sender before anyone opened it: keys and ciphertext are deleted.
    Revoked,
}

/// What the relay hands back when a document is reserved.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCreated {
    pub id: Id,
    pub expires_at: i64,
    /// The keys `K` must be wrapped to, exactly these (the relay refuses any other set).
    pub readers: Vec<KeyHolder>,
    /// For an uploader without an account: the bearer token for this document's chunks and
    /// its finalize (shown once; the relay keeps its hash).
    #[serde(default)]
    pub upload_token: Option<SecretString>,
}

/// `POST /api/documents/{id}/finalize`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizeDocumentRequest {
    pub readers: Vec<ReaderKey>,
    pub manifest: SealedManifest,
    /// An authorisation for a request by link: `K` under the request key (PROTOCOL.md).
    #[serde(default)]
    pub link_wrapped_key: Option<LinkWrappedKey>,
}

/// A document as members of the organisations involved see it. `readable` says whether the
/// viewer is one of its readers; the others see this much and a lock.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentView {
    pub id: Id,
    pub kind: DocumentKind,
    pub status: DocumentStatus,
    /// The organisation that holds it (receives it).
    pub organisation: String,
    /// Who provided it: an organisation's name, or "the portal".
    pub from: String,
    /// The uploading user, when there is one.
    #[serde(default)]
    pub uploaded_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub files: u32,
    /// Total stream size in bytes (the files padded: an upper bound of their size).
    pub size: u64,
    pub readable: bool,
    /// Reader names, for the lock's explanation.
    pub readers: Vec<String>,
    #[serde(default)]
    pub request: Option<Id>,
    #[serde(default)]
    pub invoice: Option<InvoiceView>,
    /// Whether this relay takes card payments (for an invoice).
    #[serde(default)]
    pub card_payments: bool,
    #[serde(default)]
    pub opened_at: Option<i64>,
    /// Whether it was sent by the viewer's organisation (a transfer's sender copy).
    #[serde(default)]
    pub outgoing: bool,
}

/// `GET /api/documents/{id}/key`: the viewer's wrapped key and the sealed manifest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDocumentResponse {
    pub wrapped_key: UserWrappedKey,
    pub manifest: SealedManifest,
}

/// Who a request asks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestTarget {
    /// Another organisation on this relay, by handle.
    Organisation { handle: String },
    /// Anyone holding the link: the relay gets only `SHA-256(upload token)`.
    Link {
        upload_verifier: LinkVerifier,
        /// Where to send reminders (they carry no link: the relay does not have it).
        #[serde(default)]
        provider_email: Option<String>,
    },
}

/// `POST /api/requests`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequestRequest {
    pub target: RequestTarget,
    pub description: String,
    /// Unix seconds.
    pub due_at: i64,
    /// Sizes of the authorisation document's files, if one is attached.
    #[serde(default)]
    pub authorization: Option<Vec<u64>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequestResponse {
    pub id: Id,
    #[serde(default)]
    pub authorization: Option<DocumentCreated>,
    /// Whom fulfilments will be encrypted to (the requester and their owner): a request by
    /// link puts the digest of their fingerprints in its fragment.
    pub readers: Vec<KeyHolder>,
}

/// Where a request stands, for both sides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Open,
    Fulfilled,
    /// Open past its due date.
    Overdue,
    Closed,
}

/// A request as the requester's and the provider's organisations see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: Id,
    pub status: RequestStatus,
    pub description: String,
    pub due_at: i64,
    pub created_at: i64,
    /// The requesting organisation and user.
    pub organisation: String,
    pub organisation_handle: String,
    pub organisation_verified: bool,
    pub requester: String,
    /// The organisation asked, or `None` for a request by link.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub target_handle: Option<String>,
    /// Whether the viewer's organisation made it (else it was asked).
    pub outgoing: bool,
    #[serde(default)]
    pub authorization: Option<DocumentView>,
    #[serde(default)]
    pub fulfilments: Vec<DocumentView>,
}

/// `POST /api/requests/{id}/fulfil`: reserve a document answering the request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilRequest {
    pub files: Vec<u64>,
    /// Payment asked before the requester may read it (providers with an account only).
    #[serde(default)]
    pub invoice: Option<InvoiceTerms>,
}

/// `GET /api/requests/{id}/link` with the upload token: what a provider without an account
/// sees of a request by link.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequestView {
    pub id: Id,
    pub status: RequestStatus,
    pub description: String,
    pub due_at: i64,
    pub organisation: String,
    pub organisation_handle: String,
    pub organisation_verified: bool,
    pub requester: String,
    /// The keys to encrypt to (checked against the digest in the link).
    pub readers: Vec<KeyHolder>,
    #[serde(default)]
    pub authorization: Option<LinkAuthorization>,
    pub max_bundle_bytes: u64,
}

/// An authorisation document as a provider by link receives it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkAuthorization {
    pub document: Id,
    pub link_wrapped_key: LinkWrappedKey,
    pub manifest: SealedManifest,
}

/// `GET /api/portal/{handle}`: an organisation's public intake page.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalView {
    pub organisation: String,
    pub handle: String,
    pub verified: bool,
    pub readers: Vec<KeyHolder>,
    pub max_bundle_bytes: u64,
}

/// `POST /api/portal/{handle}/drops`, `POST /api/transfers` and the like: the files' sizes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDocumentRequest {
    pub files: Vec<u64>,
}

/// `POST /api/transfers`: a chart transfer to another organisation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub to: String,
    pub files: Vec<u64>,
}

/// `GET /api/org/portal` and `PUT`: the owner's portal settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    pub enabled: bool,
    /// Members who read what arrives through the portal and chart transfers (with the owner).
    pub intake: Vec<Id>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets_golden() {
        let target = RequestTarget::Organisation {
            handle: "clinic".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&target).expect("json"),
            r#"{"kind":"organisation","handle":"clinic"}"#
        );
        let link: RequestTarget = serde_json::from_str(
            r#"{"kind":"link","upload_verifier":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        )
        .expect("a link target without e-mail");
        assert!(matches!(
            link,
            RequestTarget::Link {
                provider_email: None,
                ..
            }
        ));
        assert_eq!(
            serde_json::to_string(&DocumentKind::Authorization).expect("json"),
            r#""authorization""#
        );
        let settings: PortalSettings = serde_json::from_str("{}").expect("defaults");
        assert_eq!(settings, PortalSettings::default());
        let created = DocumentCreated {
            id: Id::from_bytes([1; 16]),
            expires_at: 0,
            readers: Vec::new(),
            upload_token: Some("bearer-secret-token".into()),
        };
        let printed = format!("{created:?}");
        assert!(!printed.contains("bearer-secret-token"), "{printed}");
    }
}
