//! Whether the relay can be reached, as one app-wide state that the offline notice shows and
//! every transfer shares: an upload or download that loses the relay waits here until it
//! answers again and then goes on by itself, instead of failing. It asks the relay's health
//! endpoint only; it decides nothing about what a transfer sends.

use leptos::prelude::*;

use crate::{api, browser};

/// How often to ask again while the relay cannot be reached.
const RECHECK_MS: i32 = 3_000;

thread_local! {
    static UNREACHABLE: ArcRwSignal<bool> = ArcRwSignal::new(false);
}

/// `true` while the relay cannot be reached (reactive: views that read it update).
pub fn unreachable() -> ArcRwSignal<bool> {
    UNREACHABLE.with(Clone::clone)
}

/// Asks the relay whether it answers, and records the outcome.
pub async fn check() -> bool {
    let reachable = !browser::is_offline() && api::health().await.is_ok();
    let state = unreachable();
    if state.get_untracked() == reachable {
        state.set(!reachable);
    }
    reachable
}

/// Returns once the relay answers, asking every few seconds; meanwhile the app shows that it
/// waits (`unreachable`).
pub async fn wait_for_relay() {
    while !check().await {
        browser::sleep(RECHECK_MS).await;
    }
}
