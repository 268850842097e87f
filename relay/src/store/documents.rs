//! Documents wrapped to public keys (fulfilments, authorisations, portal drops, chart
//! transfers) and requests, in sled. A document holds its relay-visible metadata, the reader
//! list fixed when it was reserved, the wrapped keys and sealed manifest once finalized; its
//! chunks live as files (see `blobs`). Every change of a document goes through
//! `update_document`, a compare-and-swap loop like `update_send`. When a document expires or is
//! revoked, `end` drops its wrapped keys and manifest in the same write; the caller then
//! deletes the chunk files.

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
    #[serde(default)]
    pub readers: Vec<ReaderKey>,
    #[serde(default)]
    pub manifest: Option<SealedManifest>,
    /// For an authorisation of a request by link: `K` under the request key.
    #[serde(default)]
    pub link_wrapped_key: Option<LinkWrappedKey>,
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
    /// Ends the document and drops its keys and manifest; the caller deletes the chunks.
    pub fn end(&mut self, state: DocumentStatus, now: i64) {
        self.state = state;
        self.ended_at = Some(now);
        self.readers.clear();
        self.manifest = None;
        self.link_wrapped_key = None;
        self.upload_token_hash = None;
    }

    /// Whether its bytes still count against a quota.
    pub fn occupies_storage(&self) -> bool {
        matches!(
            self.state,
            DocumentStatus::Uploading | DocumentStatus::Ready
        )
    }

    /// `user`'s wrapped key, if `user` is a reader.
    pub fn reader_key(&self, user: Id) -> Option<&ReaderKey> {
        self.readers.iter().find(|reader| reader.user == user)
    }
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
    /// Stores a new document if its quota organisation's stored ciphertext plus this one stays
    /// within `quota` (checked and reserved under the same lock as sends).
    pub async fn create_document(
        &self,
        document: &DocumentRecord,
        quota: u64,
    ) -> anyhow::Result<Result<(), super::sends::QuotaExceeded>> {
        let _guard = self.quota_lock.lock().await;
        let used = self.stored_bytes_of_org(document.quota_org)?;
        if used.saturating_add(document.sealed_bytes) > quota {
            return Ok(Err(super::sends::QuotaExceeded { used, quota }));
        }
        self.db
            .open_tree(DOCUMENTS)?
            .insert(document.id.as_bytes(), serde_json::to_vec(document)?)?;
        Ok(Ok(()))
    }

    pub fn document(&self, id: Id) -> anyhow::Result<Option<DocumentRecord>> {
        self.db
            .open_tree(DOCUMENTS)?
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "document"))
            .transpose()
    }

    /// Every document, oldest first.
    pub fn documents(&self) -> anyhow::Result<Vec<DocumentRecord>> {
        let mut documents = Vec::new();
        for item in self.db.open_tree(DOCUMENTS)?.iter() {
            let (_, bytes) = item?;
            documents.push(decode::<DocumentRecord>(&bytes, "document")?);
        }
        documents.sort_by_key(|document| document.created_at);
        Ok(documents)
    }

    /// Ciphertext bytes of documents counted against `org`.
    pub fn document_bytes_of_org(&self, org: Id) -> anyhow::Result<u64> {
        Ok(self
            .documents()?
            .iter()
            .filter(|document| document.quota_org == org && document.occupies_storage())
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
        let tree = self.db.open_tree(DOCUMENTS)?;
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

    /// Forgets a document entirely (an upload never finalized, or a purge).
    pub fn delete_document(&self, id: Id) -> anyhow::Result<()> {
        self.db.open_tree(DOCUMENTS)?.remove(id.as_bytes())?;
        Ok(())
    }

    pub fn save_request(&self, request: &RequestRecord) -> anyhow::Result<()> {
        self.db
            .open_tree(REQUESTS)?
            .insert(request.id.as_bytes(), serde_json::to_vec(request)?)?;
        Ok(())
    }

    pub fn request(&self, id: Id) -> anyhow::Result<Option<RequestRecord>> {
        self.db
            .open_tree(REQUESTS)?
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "request"))
            .transpose()
    }

    /// Every request, newest first.
    pub fn requests(&self) -> anyhow::Result<Vec<RequestRecord>> {
        let mut requests = Vec::new();
        for item in self.db.open_tree(REQUESTS)?.iter() {
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
        let tree = self.db.open_tree(REQUESTS)?;
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
        self.db.open_tree(REQUESTS)?.remove(id.as_bytes())?;
        Ok(())
    }

    /// Counts one portal drop from `ip` in the hour starting at `hour`; returns the count
    /// including this one (the caller refuses above its limit).
    pub fn count_portal_drop(&self, ip: &str, hour: i64) -> anyhow::Result<u32> {
        let tree = self.db.open_tree(PORTAL_DROPS)?;
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
