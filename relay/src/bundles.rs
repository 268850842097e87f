//! When a bundle (a send or a document) expires, decided once for each kind: the API's
//! `live_send` and `live_document` (a link or document touched after its time) and the retention
//! sweep (the hourly pass) ask here, and end a bundle with the same compare-and-swap, so an
//! expiry the two race to make happens once. What follows an expiry (the audit entry, then the
//! deletion of the bundle's folder) stays with the caller.

use shared::ids::Id;
use shared::wire::DocumentStatus;

use crate::store::{DocumentRecord, SendRecord, SendState, Store};

/// Whether `send` is past its expiry and not ended yet (a link ready, or still uploading).
pub fn send_is_due(send: &SendRecord, now: i64) -> bool {
    matches!(send.state, SendState::Ready | SendState::Uploading) && now >= send.expires_at
}

/// Ends send `id` as expired if it is still due at the moment of the swap; answers whether this
/// call ended it and the record as it is now (`None`: no such send).
pub fn expire_send(store: &Store, id: Id, now: i64) -> anyhow::Result<Option<(bool, SendRecord)>> {
    store.update_send(id, |send| {
        if !send_is_due(send, now) {
            return false;
        }
        send.end(SendState::Expired, now);
        true
    })
}

/// Whether `document` is past its expiry and not ended yet (a ready document; an upload never
/// finished is abandoned by the sweep instead).
pub fn document_is_due(document: &DocumentRecord, now: i64) -> bool {
    document.state == DocumentStatus::Ready && now >= document.expires_at
}

/// Ends document `id` as expired if it is still due at the moment of the swap; answers whether
/// this call ended it and the record as it is now (`None`: no such document).
pub fn expire_document(
    store: &Store,
    id: Id,
    now: i64,
) -> anyhow::Result<Option<(bool, DocumentRecord)>> {
    store.update_document(id, |document| {
        if !document_is_due(document, now) {
            return false;
        }
        document.end(DocumentStatus::Expired, now);
        true
    })
}
