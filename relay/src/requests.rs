//! Document requests in the domain's terms, apart from HTTP: what state a request is in. The
//! API's handlers and the retention sweep's reminders both ask here, so a request is open,
//! overdue, fulfilled or closed by one rule.

use shared::ids::Id;
use shared::wire::{DocumentStatus, RequestStatus};

use crate::store::{RequestRecord, Store};

/// The request's status at `now`: closed, fulfilled (a finished upload), overdue, or open.
pub fn status(store: &Store, now: i64, request: &RequestRecord) -> anyhow::Result<RequestStatus> {
    if request.closed_at.is_some() {
        return Ok(RequestStatus::Closed);
    }
    if has_finished_answer(store, request, None)? {
        return Ok(RequestStatus::Fulfilled);
    }
    if now > request.due_at {
        return Ok(RequestStatus::Overdue);
    }
    Ok(RequestStatus::Open)
}

/// Whether a fulfilment of `request` other than `except` finished uploading (ready, or expired
/// since).
pub fn has_finished_answer(
    store: &Store,
    request: &RequestRecord,
    except: Option<Id>,
) -> anyhow::Result<bool> {
    for id in &request.fulfilments {
        if Some(*id) == except {
            continue;
        }
        if let Some(document) = store.document(*id)?
            && matches!(
                document.state,
                DocumentStatus::Ready | DocumentStatus::Expired
            )
        {
            return Ok(true);
        }
    }
    Ok(false)
}
