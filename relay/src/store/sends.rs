//! Secure Send records: one per bundle (its id is also the link id), holding the relay-visible
//! metadata, the OTP's salt and parameters (public) and the download tokens (as hashes). The
//! link's key material (verifier, wrapped key, sealed manifest, receipt key) is never in sled:
//! it lives in the bundle folder (`blobs`), so that destroying it really destroys it. Every
//! change of state goes through `update_send`, a compare-and-swap loop, so concurrent openings
//! of one link are decided one at a time: exactly as many succeed as the link allows. When a
//! link ends, `end` records it; the caller then makes that durable and deletes the folder.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::crypto::SealedManifest;
use shared::crypto::kdf::KdfParams;
use shared::ids::Id;
use shared::wire::{LinkGuard, SendStatus};

use super::Store;

const SENDS: &str = "sends";

/// The life of a send as the relay tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    Uploading,
    Ready,
    Destroyed,
    Expired,
    Revoked,
}

/// A download token, stored as its SHA-256, with the receipt challenge issued with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadToken {
    pub hash: [u8; 32],
    pub expires_at: i64,
    pub receipt_nonce: [u8; 16],
    #[serde(default)]
    pub receipted: bool,
}

/// A send behind an invoice: whether the invoice is paid, mirrored here so the atomic opening
/// can decide on it in the same compare-and-swap (the invoice record is the truth; the mirror
/// is set from it after every change and checked against it on every access).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paywall {
    pub invoice: Id,
    pub unlocked: bool,
    /// The first time a key was released after payment.
    #[serde(default)]
    pub released_at: Option<i64>,
}

/// What a recipient's browser needs to compute a link's proof: public, kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOtp {
    #[serde(with = "shared::encoding::array")]
    pub otp_salt: [u8; 16],
    pub kdf: KdfParams,
}

/// One send as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub id: Id,
    pub org: Id,
    pub sender: Id,
    pub created_at: i64,
    pub expires_at: i64,
    /// Plaintext size of each file.
    pub files: Vec<u64>,
    /// Sum of the files' sealed sizes: what the bundle occupies.
    pub sealed_bytes: u64,
    #[serde(default)]
    pub recipient_email: Option<String>,
    pub max_opens: u32,
    pub opens: u32,
    pub attempts: u32,
    pub max_attempts: u32,
    pub state: SendState,
    /// The OTP's salt and parameters, once finalized.
    #[serde(default)]
    pub otp: Option<LinkOtp>,
    /// Key material as records before schema 2 kept it; `Store::open` moves it into the
    /// bundle folder, and it is never written here again.
    #[serde(default, rename = "guard", skip_serializing)]
    pub legacy_guard: Option<LinkGuard>,
    #[serde(default, rename = "manifest", skip_serializing)]
    pub legacy_manifest: Option<SealedManifest>,
    #[serde(default)]
    pub tokens: Vec<DownloadToken>,
    #[serde(default)]
    pub opened_at: Option<i64>,
    #[serde(default)]
    pub delivered_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Whether the chunk files, the wrapped key and the manifest are gone.
    #[serde(default)]
    pub ciphertext_deleted: bool,
    /// The invoice that must be paid before the link opens.
    #[serde(default)]
    pub paywall: Option<Paywall>,
}

impl SendRecord {
    /// The status its sender sees.
    pub fn status(&self) -> SendStatus {
        match self.state {
            SendState::Uploading => SendStatus::Uploading,
            SendState::Destroyed => SendStatus::Destroyed,
            // A delivery stays the news its sender cares about after the link lapses.
            SendState::Expired if self.delivered_at.is_some() => SendStatus::Delivered,
            SendState::Expired => SendStatus::Expired,
            SendState::Revoked => SendStatus::Revoked,
            SendState::Ready if self.delivered_at.is_some() => SendStatus::Delivered,
            SendState::Ready if self.opens > 0 => SendStatus::Opened,
            SendState::Ready => SendStatus::Waiting,
        }
    }

    /// Ends the send in `state` and drops its tokens; the caller makes this durable, then
    /// deletes the bundle folder (key material and chunks).
    pub fn end(&mut self, state: SendState, now: i64) {
        self.state = state;
        self.ended_at = Some(now);
        self.wipe();
    }

    /// Marks the key material and ciphertext deleted (the state stays); the caller makes this
    /// durable, then deletes the bundle folder.
    pub fn wipe(&mut self) {
        self.legacy_guard = None;
        self.legacy_manifest = None;
        self.tokens.clear();
        self.ciphertext_deleted = true;
    }

    /// Whether its bundle folder should still hold its key material: openable and not used up.
    pub fn keeps_keys(&self) -> bool {
        self.state == SendState::Ready && !self.ciphertext_deleted && !self.used_up()
    }

    /// Whether every allowed open is spent.
    pub fn used_up(&self) -> bool {
        self.opens >= self.max_opens
    }

    /// Whether the stored bytes count against the organisation's quota.
    pub fn occupies_storage(&self) -> bool {
        !self.ciphertext_deleted
    }
}

impl std::fmt::Debug for DownloadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadToken")
            .field("hash", &"***")
            .field("expires_at", &self.expires_at)
            .field("receipted", &self.receipted)
            .finish_non_exhaustive()
    }
}

/// Creating a send would exceed the organisation's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub used: u64,
    pub quota: u64,
}

impl Store {
    /// Stores a new send if the organisation's stored ciphertext plus this one stays within
    /// `quota` (checked and reserved under one lock).
    pub async fn create_send(
        &self,
        record: &SendRecord,
        quota: u64,
    ) -> anyhow::Result<Result<(), QuotaExceeded>> {
        let _guard = self.quota_lock.lock().await;
        let used = self.stored_bytes_of_org(record.org)?;
        if used.saturating_add(record.sealed_bytes) > quota {
            return Ok(Err(QuotaExceeded { used, quota }));
        }
        let tree = self.tree(SENDS)?;
        tree.insert(record.id.as_bytes(), serde_json::to_vec(record)?)?;
        self.create_bundle_folder(record.id).await?;
        Ok(Ok(()))
    }

    pub fn send(&self, id: Id) -> anyhow::Result<Option<SendRecord>> {
        let tree = self.tree(SENDS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored send is corrupt"))
            .transpose()
    }

    /// Every send, oldest first.
    pub fn sends(&self) -> anyhow::Result<Vec<SendRecord>> {
        let tree = self.tree(SENDS)?;
        let mut sends = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            sends.push(
                serde_json::from_slice::<SendRecord>(&bytes).context("a stored send is corrupt")?,
            );
        }
        sends.sort_by_key(|send| send.created_at);
        Ok(sends)
    }

    /// The sends `user` made, newest first.
    pub fn sends_of_user(&self, user: Id) -> anyhow::Result<Vec<SendRecord>> {
        let mut sends: Vec<SendRecord> = self
            .sends()?
            .into_iter()
            .filter(|send| send.sender == user)
            .collect();
        sends.reverse();
        Ok(sends)
    }

    /// Ciphertext bytes the organisation keeps stored (or has reserved for uploads): its
    /// sends and the documents counted against it.
    pub fn stored_bytes_of_org(&self, org: Id) -> anyhow::Result<u64> {
        let sends: u64 = self
            .sends()?
            .iter()
            .filter(|send| send.org == org && send.occupies_storage())
            .map(|send| send.sealed_bytes)
            .sum();
        Ok(sends.saturating_add(self.document_bytes_of_org(org)?))
    }

    /// Applies `change` to the send atomically: it is re-run on a fresh copy whenever another
    /// writer got there first, so it must only compute. Returns what it returned and the
    /// record as written, or `None` when there is no such send.
    pub fn update_send<T>(
        &self,
        id: Id,
        mut change: impl FnMut(&mut SendRecord) -> T,
    ) -> anyhow::Result<Option<(T, SendRecord)>> {
        let tree = self.tree(SENDS)?;
        loop {
            let Some(old) = tree.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut record: SendRecord =
                serde_json::from_slice(&old).context("a stored send is corrupt")?;
            let outcome = change(&mut record);
            let new = serde_json::to_vec(&record)?;
            if new.as_slice() == old.as_ref() {
                return Ok(Some((outcome, record)));
            }
            match tree.compare_and_swap(id.as_bytes(), Some(old), Some(new))? {
                Ok(()) => return Ok(Some((outcome, record))),
                Err(_) => continue,
            }
        }
    }

    /// Forgets a send entirely (a purge).
    pub fn delete_send(&self, id: Id) -> anyhow::Result<()> {
        self.tree(SENDS)?.remove(id.as_bytes())?;
        Ok(())
    }

    /// Forgets a send if `doomed` holds for it as it is now (compare-and-swap: a finalize that
    /// lands meanwhile saves it); whether it was forgotten.
    pub fn delete_send_if(
        &self,
        id: Id,
        doomed: impl Fn(&SendRecord) -> bool,
    ) -> anyhow::Result<bool> {
        self.delete_record_if(SENDS, id.as_bytes(), "send", doomed)
    }
}
