//! Wire types of Secure Send (PROTOCOL.md "Links" and "Delivery receipts"): creating a send,
//! finalizing it with its link guard and sealed manifest, the sender's view, and what an
//! anonymous recipient sees and sends. Sizes and counts are relay-visible metadata; names,
//! contents, the OTP, the link secret and the proof's preimage never appear here.

use serde::{Deserialize, Serialize};

use super::{InvoiceTerms, InvoiceView, LinkGuard};
use crate::crypto::SealedManifest;
use crate::crypto::kdf::{KdfParams, OtpSalt};
use crate::crypto::{LinkWrappedKey, receipt::RECEIPT_NONCE_LEN};
use crate::ids::Id;
use crate::secret::{SecretBytes, SecretString};

/// `POST /api/sends`: reserve room for a bundle and get its id (which is also the link id).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSendRequest {
    /// Stream size of each file (its padded size, PROTOCOL.md "Padding"), in manifest order;
    /// the relay derives each file's chunk schedule from it.
    pub files: Vec<u64>,
    /// Seconds from now until the link expires (1 hour to the organisation's maximum).
    pub expires_in_seconds: i64,
    /// How many times the link may be opened.
    pub max_opens: u32,
    /// The recipient's address, if the sender gave one (metadata, for the Sent list).
    #[serde(default)]
    pub recipient_email: Option<String>,
    /// Payment asked before anything decryptable is released (the paywall).
    #[serde(default)]
    pub invoice: Option<InvoiceTerms>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSendResponse {
    pub id: Id,
    pub expires_at: i64,
}

/// `GET /api/sends/{id}/chunks`: which chunks of a send that is still uploading the relay holds
/// whole, so that an interrupted upload (a reload, a lost network) sends only the others.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChunks {
    /// For each file, in manifest order, the indices of its chunks stored at their full length,
    /// ascending.
    pub files: Vec<Vec<u32>>,
}

/// `POST /api/sends/{id}/finalize`: the link guard and the sealed manifest; after this the
/// link opens.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizeSendRequest {
    pub guard: LinkGuard,
    pub manifest: SealedManifest,
}

/// Where a send stands, as its sender sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// Chunks are still arriving; the link does not open yet.
    Uploading,
    /// Ready and not opened yet.
    Waiting,
    /// Opened at least once; no delivery receipt yet.
    Opened,
    /// A recipient proved they decrypted it.
    Delivered,
    /// Too many wrong one-time passwords: key and ciphertext are deleted.
    Destroyed,
    /// Past its expiry: key and ciphertext are deleted.
    Expired,
    /// Revoked by the sender: key and ciphertext are deleted.
    Revoked,
}

/// One entry of the sender's "Sent" list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendView {
    pub id: Id,
    pub status: SendStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub max_opens: u32,
    pub opens: u32,
    pub attempts: u32,
    pub max_attempts: u32,
    pub files: u32,
    /// Total stream size in bytes (the files padded: an upper bound of their size).
    pub size: u64,
    #[serde(default)]
    pub recipient_email: Option<String>,
    #[serde(default)]
    pub opened_at: Option<i64>,
    #[serde(default)]
    pub delivered_at: Option<i64>,
    #[serde(default)]
    pub invoice: Option<InvoiceView>,
}

/// `GET /api/links/{id}`: what anyone holding the link may know before typing the OTP.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub id: Id,
    pub organisation: String,
    pub organisation_handle: String,
    /// Whether the relay's operator verified the sending organisation.
    pub organisation_verified: bool,
    pub expires_at: i64,
    pub opens_left: u32,
    pub attempts_left: u32,
    pub files: u32,
    pub size: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub otp_salt: OtpSalt,
    pub kdf: KdfParams,
    /// The payment asked before the link opens, if any.
    #[serde(default)]
    pub invoice: Option<InvoiceView>,
    /// Whether this relay takes card payments (Stripe); without, only the payee can mark an
    /// invoice paid.
    #[serde(default)]
    pub card_payments: bool,
}

/// `POST /api/links/{id}/open`: the proof derived from the link secret and the OTP.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLinkRequest {
    pub proof: SecretBytes<32>,
}

/// What a correct proof releases (once per allowed open).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLinkResponse {
    /// `AES-256-GCM(link_key, K)`.
    pub wrapped_key: LinkWrappedKey,
    pub manifest: SealedManifest,
    /// Bearer token for the chunk downloads of this bundle (short-lived).
    pub download_token: SecretString,
    pub token_expires_at: i64,
    /// The relay's challenge for the delivery receipt.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub receipt_nonce: [u8; RECEIPT_NONCE_LEN],
}

/// `POST /api/links/{id}/receipt`: `HMAC-SHA-256(receipt_key, link_id ‖ nonce)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRequest {
    pub download_token: SecretString,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub receipt: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_chunks_golden() {
        let stored = StoredChunks {
            files: vec![vec![0, 2], vec![]],
        };
        let json = serde_json::to_string(&stored).expect("serialize");
        assert_eq!(json, r#"{"files":[[0,2],[]]}"#);
        assert_eq!(
            serde_json::from_str::<StoredChunks>(&json).expect("parse"),
            stored
        );
    }

    #[test]
    fn create_and_open_golden() {
        let create = CreateSendRequest {
            files: vec![0, 10_485_760],
            expires_in_seconds: 3600,
            max_opens: 1,
            recipient_email: None,
            invoice: None,
        };
        let json = serde_json::to_string(&create).expect("json");
        assert_eq!(
            json,
            r#"{"files":[0,10485760],"expires_in_seconds":3600,"max_opens":1,"recipient_email":null,"invoice":null}"#
        );
        let minimal: CreateSendRequest =
            serde_json::from_str(r#"{"files":[1],"expires_in_seconds":3600,"max_opens":1}"#)
                .expect("the e-mail is optional");
        assert_eq!(minimal.recipient_email, None);
        let open = OpenLinkRequest {
            proof: [0xab; 32].into(),
        };
        assert_eq!(
            serde_json::to_string(&open).expect("json"),
            r#"{"proof":"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s"}"#
        );
        assert!(!format!("{open:?}").contains("171"));
        assert_eq!(
            serde_json::to_string(&SendStatus::Delivered).expect("json"),
            r#""delivered""#
        );
    }
}
