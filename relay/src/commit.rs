//! The durability contract at the HTTP edge (ARCHITECTURE.md, "Durability"): no API answer
//! leaves before the changes its request made are on disk. Every API request runs inside
//! `store::track_writes`, which learns the number of the last write the request made (on its
//! own task: handlers make their writes there, never on a spawned task); if it wrote anything,
//! the answer waits for `Store::commit_through` that number, which concurrent requests share
//! (group commit), so a read that wrote nothing never waits. A commit that fails turns the
//! answer into a 507 (full disk) or a 503: the change is then not acknowledged. While the disk
//! has less than `[server] min_free_bytes` free, changes are refused with 507 before they
//! start, except those that protect or free (logging out, removing or demoting a member,
//! revoking, closing), which the reserve is there for. Handlers that must undo a change when
//! it cannot be made durable (an opening that would spend a link's open without handing out
//! its key) commit themselves first; this layer then finds nothing left to do.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::track_writes;

/// The middleware (see the module header).
pub async fn durable(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let read_only = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !read_only && !protective(request.method(), request.uri().path()) && !has_room(&state) {
        return AppError::StorageFull.into_response();
    }
    let (response, last_write) = track_writes(next.run(request)).await;
    if last_write == 0 {
        return response;
    }
    match state.store.commit_through(last_write).await {
        Ok(()) => response,
        Err(error) => unacknowledged(error).into_response(),
    }
}

/// Whether a change protects or frees rather than adds: logging out, ending a member's access,
/// revoking or closing. The free-space reserve exists so that these small writes still work
/// on a nearly full disk.
fn protective(method: &Method, path: &str) -> bool {
    let ends = |suffix: &str| path.ends_with(suffix);
    (*method == Method::DELETE && path.contains("/org/members/"))
        || ends("/auth/logout")
        || ends("/auth/logout-all")
        || ends("/mfa-reset")
        || ends("/role")
        || ends("/org/close")
        || ends("/revoke")
        || (path.contains("/requests/") && ends("/close"))
}

/// Whether the disk keeps `[server] min_free_bytes` free: below that, changes are refused
/// before they start, so the database never meets a full disk (after which it could not even
/// record a refusal).
fn has_room(state: &AppState) -> bool {
    let reserve = state.config.server.min_free_bytes;
    if reserve == 0 {
        return true;
    }
    match state.store.free_bytes() {
        Ok(free) => free >= reserve,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "cannot tell the free space");
            true
        }
    }
}

/// The answer for a change that could not be made durable.
pub fn unacknowledged(error: anyhow::Error) -> AppError {
    if crate::store::is_disk_full(&error) {
        tracing::error!(
            error = format!("{error:#}"),
            "a change could not be made durable: the disk is full"
        );
        AppError::StorageFull
    } else {
        AppError::StorageUnavailable(error)
    }
}
