//! A Secure Send as its sender makes it, in domain terms (PRODUCT.md flow 1): the checks of a
//! new send against the relay's limits and the organisation's policy, its invoice, and its
//! reservation within the quota. No HTTP here: `api/sends.rs` extracts and authorizes the
//! sender, calls [`create`] and answers; a [`SendError`] becomes its answer in `error.rs`.

use shared::crypto::manifest::MAX_FILES;
use shared::ids::Id;
use shared::wire;

use crate::config::SendsConfig;
use crate::store::{
    InvoiceRecord, InvoiceSubject, Paywall, QuotaExceeded, SendRecord, SendState, Store,
};

/// Shortest expiry a sender may choose.
pub const MIN_EXPIRY_SECONDS: i64 = 3600;

/// Who sends: their organisation, themselves, and how long their organisation lets a link live.
#[derive(Debug, Clone, Copy)]
pub struct Sender {
    pub org: Id,
    pub user: Id,
    pub max_expiry_days: u32,
}

/// Why a send cannot be made as asked.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request breaks a limit; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The organisation's storage is full.
    #[error("the organisation's storage is full")]
    Quota(QuotaExceeded),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Checks a new send at `now` against `limits` and the sender's policy, opens its invoice if
/// it asks for payment, and reserves it within the quota; the record, still uploading.
pub async fn create(
    store: &Store,
    now: i64,
    limits: &SendsConfig,
    sender: Sender,
    request: wire::CreateSendRequest,
    recipient_email: Option<String>,
) -> Result<SendRecord, SendError> {
    if request.files.is_empty() || request.files.len() > MAX_FILES {
        return Err(SendError::Invalid(format!(
            "a send carries 1 to {MAX_FILES} files"
        )));
    }
    let sealed_bytes = crate::bundles::sealed_size(&request.files).map_err(SendError::Invalid)?;
    if sealed_bytes > limits.max_bundle_bytes {
        return Err(SendError::Invalid(format!(
            "this send is {sealed_bytes} bytes once encrypted; this relay accepts at most {} bytes per send",
            limits.max_bundle_bytes
        )));
    }
    let longest = i64::from(sender.max_expiry_days) * 86_400;
    if !(MIN_EXPIRY_SECONDS..=longest).contains(&request.expires_in_seconds) {
        return Err(SendError::Invalid(format!(
            "the expiry must be between 1 hour and {} days",
            sender.max_expiry_days
        )));
    }
    if !(1..=limits.max_opens).contains(&request.max_opens) {
        return Err(SendError::Invalid(format!(
            "the number of opens must be 1 to {}",
            limits.max_opens
        )));
    }
    let description = request
        .invoice
        .as_ref()
        .map(crate::invoices::validate_terms)
        .transpose()
        .map_err(|invalid| SendError::Invalid(invalid.0))?;
    let id = Id::generate(&mut shared::crypto::OsRng);
    let invoice = match (&request.invoice, description) {
        (Some(terms), Some(description)) => Some(InvoiceRecord::open(
            Id::generate(&mut shared::crypto::OsRng),
            sender.org,
            sender.user,
            InvoiceSubject::Send { id },
            terms,
            description,
            now,
        )),
        _ => None,
    };
    let record = SendRecord {
        id,
        org: sender.org,
        sender: sender.user,
        created_at: now,
        expires_at: now + request.expires_in_seconds,
        files: request.files,
        sealed_bytes,
        recipient_email,
        max_opens: request.max_opens,
        opens: 0,
        attempts: 0,
        max_attempts: limits.max_attempts,
        state: SendState::Uploading,
        otp: None,
        legacy_guard: None,
        legacy_manifest: None,
        tokens: Vec::new(),
        opened_at: None,
        delivered_at: None,
        ended_at: None,
        ciphertext_deleted: false,
        paywall: invoice.as_ref().map(|invoice| Paywall {
            invoice: invoice.id,
            unlocked: false,
            released_at: None,
        }),
    };
    if let Some(invoice) = &invoice {
        store.create_invoice(invoice)?;
    }
    if let Err(full) = store.create_send(&record, limits.org_quota_bytes).await? {
        if let Some(invoice) = &invoice {
            store.delete_unpaid_invoice(invoice.id)?;
        }
        return Err(SendError::Quota(full));
    }
    Ok(record)
}
