//! Outgoing webhooks in sled: endpoints under their id, deliveries under their id (which is
//! derived from the endpoint and the audit entry it reports, so collecting the same entry twice
//! finds the delivery already there), the ids of the deliveries still pending (so the worker
//! reads only those, however many finished ones are kept), and the collector's cursor: the
//! last audit entry turned into deliveries. Every change of a delivery is a compare-and-swap
//! (`update_record`). A pending mark is set before its delivery becomes pending and removed
//! after it stops being so: a crash between the two leaves a mark too many, which the worker
//! drops when it finds the delivery finished, never a pending delivery without its mark.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::ids::Id;
use shared::wire::{DeliveryState, WebhookEvent};

use super::{Store, Updated};

const ENDPOINTS: &str = "webhook_endpoints";
const DELIVERIES: &str = "webhook_deliveries";
const PENDING: &str = "webhook_pending";
const CURSOR_TREE: &str = "webhook_cursor";
const CURSOR: &[u8] = b"next_audit_seq";

/// An endpoint as stored. The secret must be kept: every delivery is signed with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: Id,
    pub org: Id,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// `whsec_…`, the HMAC key of the signatures (the whole text, as Stripe's scheme has it).
    pub secret: String,
    pub created_by: Id,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// A delivery as stored: its body is fixed when it is made, so every attempt and replay sends
/// the same bytes (with a fresh signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: Id,
    pub endpoint: Id,
    pub org: Id,
    pub event: WebhookEvent,
    pub object: Id,
    pub created_at: i64,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// When it may next be tried (also the lease of an attempt in flight).
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl Store {
    pub fn save_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> anyhow::Result<()> {
        let tree = self.tree(ENDPOINTS)?;
        tree.insert(endpoint.id.as_bytes(), serde_json::to_vec(endpoint)?)?;
        Ok(())
    }

    pub fn webhook_endpoint(&self, id: Id) -> anyhow::Result<Option<WebhookEndpoint>> {
        let tree = self.tree(ENDPOINTS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored webhook is corrupt"))
            .transpose()
    }

    /// The organisation's endpoints, oldest first.
    pub fn webhook_endpoints_of_org(&self, org: Id) -> anyhow::Result<Vec<WebhookEndpoint>> {
        let tree = self.tree(ENDPOINTS)?;
        let mut endpoints = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let endpoint: WebhookEndpoint =
                serde_json::from_slice(&bytes).context("a stored webhook is corrupt")?;
            if endpoint.org == org {
                endpoints.push(endpoint);
            }
        }
        endpoints.sort_by_key(|endpoint| endpoint.created_at);
        Ok(endpoints)
    }

    /// Records an attempt's outcome on its endpoint.
    pub fn note_webhook_attempt(
        &self,
        id: Id,
        at: i64,
        status: Option<u16>,
        error: Option<String>,
    ) -> anyhow::Result<()> {
        self.update_record(
            ENDPOINTS,
            id.as_bytes(),
            None,
            "webhook",
            |endpoint: &mut WebhookEndpoint| {
                if endpoint.last_attempt_at.is_none_or(|last| last <= at) {
                    endpoint.last_attempt_at = Some(at);
                    endpoint.last_status = status;
                    endpoint.last_error = error.clone();
                }
            },
        )?;
        Ok(())
    }

    /// Deletes an endpoint of `org` and every delivery of it; whether there was one.
    pub fn delete_webhook_endpoint(&self, org: Id, id: Id) -> anyhow::Result<bool> {
        if self
            .webhook_endpoint(id)?
            .is_none_or(|endpoint| endpoint.org != org)
        {
            return Ok(false);
        }
        let tree = self.tree(ENDPOINTS)?;
        tree.remove(id.as_bytes())?;
        for delivery in self.webhook_deliveries_of(id)? {
            self.remove_webhook_delivery(delivery.id)?;
        }
        Ok(true)
    }

    /// Stores `delivery` (pending) unless one with its id exists (collecting an entry twice is
    /// harmless); whether it was new.
    pub fn add_webhook_delivery(&self, delivery: &WebhookDelivery) -> anyhow::Result<bool> {
        self.mark_webhook_pending(delivery.id, true)?;
        let tree = self.tree(DELIVERIES)?;
        let bytes = serde_json::to_vec(delivery)?;
        Ok(tree
            .compare_and_swap(delivery.id.as_bytes(), None::<&[u8]>, Some(bytes))?
            .is_ok())
    }

    pub fn webhook_delivery(&self, id: Id) -> anyhow::Result<Option<WebhookDelivery>> {
        let tree = self.tree(DELIVERIES)?;
        tree.get(id.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored delivery is corrupt"))
            .transpose()
    }

    /// Marks delivery `id` pending, or not.
    pub fn mark_webhook_pending(&self, id: Id, pending: bool) -> anyhow::Result<()> {
        let tree = self.tree(PENDING)?;
        if pending {
            tree.insert(id.as_bytes(), Vec::new())?;
        } else {
            tree.remove(id.as_bytes())?;
        }
        Ok(())
    }

    /// The ids marked pending.
    pub fn pending_webhook_deliveries(&self) -> anyhow::Result<Vec<Id>> {
        let tree = self.tree(PENDING)?;
        let mut ids = Vec::new();
        for item in tree.iter() {
            let (key, _) = item?;
            if let Ok(bytes) = <[u8; 16]>::try_from(key.as_ref()) {
                ids.push(Id::from_bytes(bytes));
            }
        }
        Ok(ids)
    }

    /// Every delivery (for the sweep and the listing).
    pub fn webhook_deliveries(&self) -> anyhow::Result<Vec<WebhookDelivery>> {
        let tree = self.tree(DELIVERIES)?;
        tree.iter()
            .map(|item| {
                let (_, bytes) = item?;
                serde_json::from_slice(&bytes).context("a stored delivery is corrupt")
            })
            .collect()
    }

    /// The deliveries of one endpoint, newest first.
    pub fn webhook_deliveries_of(&self, endpoint: Id) -> anyhow::Result<Vec<WebhookDelivery>> {
        let mut deliveries: Vec<WebhookDelivery> = self
            .webhook_deliveries()?
            .into_iter()
            .filter(|delivery| delivery.endpoint == endpoint)
            .collect();
        deliveries.sort_by_key(|delivery| std::cmp::Reverse(delivery.created_at));
        Ok(deliveries)
    }

    /// Applies `change` to a delivery in one compare-and-swap.
    pub fn update_webhook_delivery<T>(
        &self,
        id: Id,
        change: impl Fn(&mut WebhookDelivery) -> T,
    ) -> anyhow::Result<Option<(T, WebhookDelivery)>> {
        Ok(
            match self.update_record(DELIVERIES, id.as_bytes(), None, "delivery", change)? {
                Updated::Done { outcome, record } => Some((outcome, record)),
                Updated::Missing | Updated::SessionEnded => None,
            },
        )
    }

    pub fn remove_webhook_delivery(&self, id: Id) -> anyhow::Result<()> {
        let tree = self.tree(DELIVERIES)?;
        tree.remove(id.as_bytes())?;
        self.mark_webhook_pending(id, false)
    }

    /// The next audit entry the collector reads.
    pub fn webhook_cursor(&self) -> anyhow::Result<Option<u64>> {
        let tree = self.tree(CURSOR_TREE)?;
        Ok(tree
            .get(CURSOR)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    pub fn set_webhook_cursor(&self, seq: u64) -> anyhow::Result<()> {
        let tree = self.tree(CURSOR_TREE)?;
        tree.insert(CURSOR, seq.to_be_bytes().to_vec())?;
        Ok(())
    }

    /// Removes the endpoints (and deliveries) of an organisation being purged.
    pub fn delete_webhooks_of_org(&self, org: Id) -> anyhow::Result<()> {
        for endpoint in self.webhook_endpoints_of_org(org)? {
            self.delete_webhook_endpoint(org, endpoint.id)?;
        }
        Ok(())
    }
}
