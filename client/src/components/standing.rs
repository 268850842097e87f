//! The organisation's standing with the operator where it decides what a page can do: a notice
//! in plain words on pages that send or request (shown before anyone picks files), whether
//! their forms are enabled, and, while the organisation is pending, a look at the session every
//! few seconds so the operator's verification shows up without a reload. It does not enforce
//! anything: the relay refuses a pending, suspended or closed organisation on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire::OrgStatus;

use crate::auth::{Auth, use_auth};

/// How often a pending organisation's session is looked at again.
const POLL_MS: i32 = 4_000;

/// The logged-in organisation's standing (tracked), if anyone is logged in.
pub fn org_status(auth: Auth) -> Option<OrgStatus> {
    auth.api
        .with(|api| api.as_ref().map(|api| api.session().organisation.status))
}

/// Whether the organisation may send and request documents now (tracked). `true` while nobody
/// is logged in, so forms do not flash disabled before the session arrives.
pub fn may_send(auth: Auth) -> bool {
    org_status(auth).is_none_or(|status| status == OrgStatus::Verified)
}

/// While the organisation is pending, asks the relay for the session every few seconds and
/// takes it once the standing changed; stops when it is no longer pending or the calling view
/// goes away.
pub fn poll_while_pending(auth: Auth) {
    let pending = Memo::new(move |_| org_status(auth) == Some(OrgStatus::Pending));
    Effect::new(move |_| {
        if !pending.get() {
            return;
        }
        let stopped = Arc::new(AtomicBool::new(false));
        on_cleanup({
            let stopped = Arc::clone(&stopped);
            move || stopped.store(true, Ordering::Relaxed)
        });
        spawn_local(async move {
            loop {
                crate::browser::sleep(POLL_MS).await;
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                match crate::api::resume().await {
                    // Logged out meanwhile: nothing left to watch.
                    Ok(None) => return,
                    Ok(Some(fresh)) => {
                        if stopped.load(Ordering::Relaxed) {
                            return;
                        }
                        let now = fresh.session().organisation.status;
                        if untrack(|| org_status(auth)) != Some(now) {
                            // The effect runs again on this change and ends this loop.
                            auth.api.set(Some(fresh));
                            return;
                        }
                    }
                    // The network or the relay: try again at the next tick.
                    Err(_) => {}
                }
            }
        });
    });
}

/// Says why sending and requesting are off, if they are; watches for the verification.
#[component]
pub fn StandingNotice(
    /// What the page does, completing "…you cannot …" (e.g. "send documents").
    action: &'static str,
) -> impl IntoView {
    let auth = use_auth();
    poll_while_pending(auth);
    move || {
        let text = match org_status(auth)? {
            OrgStatus::Verified => return None,
            OrgStatus::Pending => format!(
                "Your organisation is waiting for the operator's verification. Until the operator \
                 verifies it, you cannot {action}. This page notices the verification by itself."
            ),
            OrgStatus::Suspended => {
                format!("Your organisation is suspended by the operator, so you cannot {action}.")
            }
            OrgStatus::Closed => {
                format!("Your organisation is closed, so you cannot {action}.")
            }
        };
        Some(view! {
            <p class="banner banner-warn" role="status" data-testid="standing-notice">{text}</p>
        })
    }
}
