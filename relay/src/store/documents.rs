//! Documents wrapped to public keys (fulfilments, authorisations, portal drops, chart
//! transfers) and requests, in sled. A document holds its relay-visible metadata and the reader
//! list fixed when it was reserved; its wrapped keys, sealed manifest and chunks live as files
//! in its bundle folder (see `blobs`), never in sled. Every change of a document goes through
//! `update_document`, a compare-and-swap loop like `update_send`. When a document expires or is
//! revoked, `end` records it; the caller then makes that durable and deletes the folder.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::crypto::{LinkWrappedKey, SealedManifest};
use shared::ids::Id;
use shared::wire::{DocumentKind, DocumentStatus, ReaderKey};

use super::{Paywall, Store};

const DOCUMENTS: &str = "documents";
const REQUESTS: &str = "requests";
/// IP → drops in the current hour (portal rate limit).
const PORTAL_DROPS: &str = "portal_drops";

/// One document as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: Id,
    pub kind: DocumentKind,
    /// The organisation that holds it: the requester's for fulfilments and authorisations,
    /// the portal's owner, a transfer's receiver.
    pub org: Id,
    /// The other organisation involved, if any: a fulfilment's provider, an authorisation's
    /// provider, a transfer's sender.
    #[serde(default)]
    pub counterpart: Option<Id>,
    /// The user who uploaded it (none for uploads without an account).
    #[serde(default)]
    pub uploaded_by: Option<Id>,
    #[serde(default)]
    pub request: Option<Id>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Plaintext size of each file.
    pub files: Vec<u64>,
    pub sealed_bytes: u64,
    /// The organisation whose quota the bytes count against.
    pub quota_org: Id,
    pub state: DocumentStatus,
    /// Who may read it, fixed when it was reserved; finalize must wrap `K` to exactly these.
    pub expected_readers: Vec<Id>,
    /// Key material as records before schema 2 kept it; `Store::open` moves it into the
    /// bundle folder, and it is never written here again.
    #[serde(default, rename = "readers", skip_serializing)]
    pub legacy_readers: Vec<ReaderKey>,
    #[serde(default, rename = "manifest", skip_serializing)]
    pub legacy_manifest: Option<SealedManifest>,
    #[serde(default, rename = "link_wrapped_key", skip_serializing)]
    pub legacy_link_wrapped_key: Option<LinkWrappedKey>,
    /// Whether its bundle came from someone without an account (a portal drop, a fulfilment
    /// by link): such bytes count against the organisation's intake allowance, never against
    /// what it may send.
    #[serde(default)]
    pub anonymous: bool,
    /// While an anonymous upload is unfinished: the address it comes from (for the per-address
    /// allowance); forgotten at finalize.
    #[serde(default)]
    pub uploader_ip: Option<String>,
    /// SHA-256 of the bearer token an uploader without an account uses.
    #[serde(default)]
    pub upload_token_hash: Option<[u8; 32]>,
    #[serde(default)]
    pub paywall: Option<Paywall>,
    /// When a reader of the holding organisation first fetched their key.
    #[serde(default)]
    pub opened_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
}

impl DocumentRecord {
    /// Ends the document; the caller makes this durable, then deletes the bundle folder (key
    /// material and chunks).
    pub fn end(&mut self, state: DocumentStatus, now: i64) {
        self.state = state;
        self.ended_at = Some(now);
        self.legacy_readers.clear();
        self.legacy_manifest = None;
        self.legacy_link_wrapped_key = None;
        self.upload_token_hash = None;
        self.uploader_ip = None;
    }

    /// Whether its bytes still count against a quota.
    pub fn occupies_storage(&self) -> bool {
        matches!(
            self.state,
            DocumentStatus::Uploading | DocumentStatus::Ready
        )
    }
}

/// The storage a new document must fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// What a member's documents and sends may occupy per organisation.
    pub org_quota: u64,
    /// Unfinished anonymous uploads per organisation.
    pub unfinished_per_org: u64,
    /// Unfinished anonymous uploads from one address (or IPv6 /64).
    pub unfinished_per_address: u64,
    /// Anonymous uploads, finished or not, per organisation.
    pub intake_per_org: u64,
}

/// Why a new document does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageRefusal {
    /// The organisation's own storage is full.
    Quota(super::sends::QuotaExceeded),
    /// The organisation's allowance for anonymous uploads is used up for now.
    IntakeFull,
    /// This address has as much unfinished anonymous upload as it may.
    AddressBusy,
}

/// Who a stored request asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredTarget {
    Organisation {
        org: Id,
    },
    Link {
        /// SHA-256 of the upload token derived from the link's secret.
        #[serde(with = "shared::encoding::array")]
        upload_verifier: [u8; 32],
        #[serde(default)]
        provider_email: Option<String>,
    },
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: Id,
    /// The requesting organisation and user.
    pub org: Id,
    pub requester: Id,
    pub target: StoredTarget,
    pub description: String,
    pub due_at: i64,
    pub created_at: i64,
    #[serde(default)]
    pub closed_at: Option<i64>,
    #[serde(default)]
    pub authorization: Option<Id>,
    #[serde(default)]
    pub fulfilments: Vec<Id>,
    /// The last reminder mailed.
    #[serde(default)]
    pub reminded_at: Option<i64>,
    /// For a request by link, which takes one answer: the fulfilment that took it, just before
    /// it became readable (a compare-and-swap on this record, so two uploads finishing at once
    /// cannot both answer).
    #[serde(default)]
    pub answered_by: Option<Id>,
    /// When the sweep first found it overdue (and recorded `request.overdue`, once).
    #[serde(default)]
    pub overdue_at: Option<i64>,
}

impl RequestRecord {
    /// The organisation asked, for a request to one.
    pub fn target_org(&self) -> Option<Id> {
        match self.target {
            StoredTarget::Organisation { org } => Some(org),
            StoredTarget::Link { .. } => None,
        }
    }
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("a stored {what} is corrupt"))
}

impl Store {
    /// Stores a new document if it fits: a document of a member counts against its quota
    /// organisation's storage (checked and reserved under the same lock as sends); an anonymous
    /// one (no account) only against the intake allowances, so strangers can never fill what
    /// the organisation needs for its own sending.
    pub async fn create_document(
        &self,
        document: &DocumentRecord,
        limits: &DocumentLimits,
    ) -> anyhow::Result<Result<(), StorageRefusal>> {
        let _guard = self.quota_lock.lock().await;
        if document.anonymous {
            let anonymous: Vec<DocumentRecord> = self
                .documents()?
                .into_iter()
                .filter(|other| other.anonymous && other.occupies_storage())
                .collect();
            let sum = |keep: &dyn Fn(&DocumentRecord) -> bool| -> u64 {
                anonymous
                    .iter()
                    .filter(|other| keep(other))
                    .map(|other| other.sealed_bytes)
                    .sum()
            };
            let org = document.quota_org;
            let unfinished = |other: &DocumentRecord| other.state == DocumentStatus::Uploading;
            if let Some(address) = &document.uploader_ip {
                let from_address = sum(&|other| {
                    unfinished(other) && other.uploader_ip.as_deref() == Some(address.as_str())
                });
                if from_address.saturating_add(document.sealed_bytes)
                    > limits.unfinished_per_address
                {
                    return Ok(Err(StorageRefusal::AddressBusy));
                }
            }
            let unfinished_of_org = sum(&|other| unfinished(other) && other.quota_org == org);
            let stored_of_org = sum(&|other| other.quota_org == org);
            if unfinished_of_org.saturating_add(document.sealed_bytes) > limits.unfinished_per_org
                || stored_of_org.saturating_add(document.sealed_bytes) > limits.intake_per_org
            {
                return Ok(Err(StorageRefusal::IntakeFull));
            }
        } else {
            let used = self.stored_bytes_of_org(document.quota_org)?;
            if used.saturating_add(document.sealed_bytes) > limits.org_quota {
                return Ok(Err(StorageRefusal::Quota(super::sends::QuotaExceeded {
                    used,
                    quota: limits.org_quota,
                })));
            }
        }
        self.tree(DOCUMENTS)?
            .insert(document.id.as_bytes(), serde_json::to_vec(document)?)?;
        self.create_bundle_folder(document.id).await?;
        Ok(Ok(()))
    }

    pub fn document(&self, id: Id) -> anyhow::Result<Option<DocumentRecord>> {
        self.tree(DOCUMENTS)?
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "document"))
            .transpose()
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> anyhow::Result<Vec<DocumentRecord>> {
        let mut documents = Vec::new();
        for item in self.tree(DOCUMENTS)?.iter() {
            let (_, bytes) = item?;
            documents.push(decode::<DocumentRecord>(&bytes, "document")?);
        }
        documents.sort_by_key(|document| document.created_at);
        Ok(documents)
    }

    /// Ciphertext bytes of documents counted against `org`'s own storage (anonymous uploads
    /// count against its intake allowance instead).
    pub fn document_bytes_of_org(&self, org: Id) -> anyhow::Result<u64> {
        Ok(self
            .documents()?
            .iter()
            .filter(|document| {
                document.quota_org == org && !document.anonymous && document.occupies_storage()
            })
            .map(|document| document.sealed_bytes)
            .sum())
    }

    /// Applies `change` atomically (re-run on a fresh copy if another writer got there first,
    /// so it must only compute); `None` when there is no such document.
    pub fn update_document<T>(
        &self,
        id: Id,
        mut change: impl FnMut(&mut DocumentRecord) -> T,
    ) -> anyhow::Result<Option<(T, DocumentRecord)>> {
        let tree = self.tree(DOCUMENTS)?;
        loop {
            let Some(old) = tree.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut record: DocumentRecord = decode(&old, "document")?;
            let outcome = change(&mut record);
            let new = serde_json::to_vec(&record)?;
            if new.as_slice() == old.as_ref() {
                return Ok(Some((outcome, record)));
            }
            if tree
                .compare_and_swap(id.as_bytes(), Some(old), Some(new))?
                .is_ok()
            {
                return Ok(Some((outcome, record)));
            }
        }
    }

    /// Forgets a document entirely (a purge).
    pub fn delete_document(&self, id: Id) -> anyhow::Result<()> {
        self.tree(DOCUMENTS)?.remove(id.as_bytes())?;
        Ok(())
    }

    /// Forgets a document if `doomed` holds for it as it is now (compare-and-swap: a finalize
    /// that lands meanwhile saves it); whether it was forgotten.
    pub fn delete_document_if(
        &self,
        id: Id,
        doomed: impl Fn(&DocumentRecord) -> bool,
    ) -> anyhow::Result<bool> {
        self.delete_record_if(DOCUMENTS, id.as_bytes(), "document", doomed)
    }

    pub fn save_request(&self, request: &RequestRecord) -> anyhow::Result<()> {
        self.tree(REQUESTS)?
            .insert(request.id.as_bytes(), serde_json::to_vec(request)?)?;
        Ok(())
    }

    pub fn request(&self, id: Id) -> anyhow::Result<Option<RequestRecord>> {
        self.tree(REQUESTS)?
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "request"))
            .transpose()
    }

    /// Every request, newest first.
    pub fn requests(&self) -> anyhow::Result<Vec<RequestRecord>> {
        let mut requests = Vec::new();
        for item in self.tree(REQUESTS)?.iter() {
            let (_, bytes) = item?;
            requests.push(decode::<RequestRecord>(&bytes, "request")?);
        }
        requests.sort_by_key(|request| std::cmp::Reverse(request.created_at));
        Ok(requests)
    }

    /// Applies `change` to a request atomically (a compare-and-swap loop).
    pub fn update_request<T>(
        &self,
        id: Id,
        mut change: impl FnMut(&mut RequestRecord) -> T,
    ) -> anyhow::Result<Option<(T, RequestRecord)>> {
        let tree = self.tree(REQUESTS)?;
        loop {
            let Some(old) = tree.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut record: RequestRecord = decode(&old, "request")?;
            let outcome = change(&mut record);
            let new = serde_json::to_vec(&record)?;
            if new.as_slice() == old.as_ref()
                || tree
                    .compare_and_swap(id.as_bytes(), Some(old), Some(new))?
                    .is_ok()
            {
                return Ok(Some((outcome, record)));
            }
        }
    }

    pub fn delete_request(&self, id: Id) -> anyhow::Result<()> {
        self.tree(REQUESTS)?.remove(id.as_bytes())?;
        Ok(())
    }

    /// Counts one portal drop from `ip` in the hour starting at `hour`; returns the count
    /// including this one (the caller refuses above its limit).
    pub fn count_portal_drop(&self, ip: &str, hour: i64) -> anyhow::Result<u32> {
        let tree = self.tree(PORTAL_DROPS)?;
        loop {
            let old = tree.get(ip.as_bytes())?;
            let (start, count) = old
                .as_ref()
                .and_then(|bytes| <[u8; 12]>::try_from(bytes.as_ref()).ok())
                .map_or((hour, 0), |bytes| {
                    let mut start = [0_u8; 8];
                    start.copy_from_slice(&bytes[..8]);
                    let mut count = [0_u8; 4];
                    count.copy_from_slice(&bytes[8..]);
                    (i64::from_be_bytes(start), u32::from_be_bytes(count))
                });
            let count = if start == hour { count + 1 } else { 1 };
            let mut new = [0_u8; 12];
            new[..8].copy_from_slice(&hour.to_be_bytes());
            new[8..].copy_from_slice(&count.to_be_bytes());
            if tree
                .compare_and_swap(ip.as_bytes(), old, Some(new.as_slice()))?
                .is_ok()
            {
                return Ok(count);
            }
        }
    }
}
