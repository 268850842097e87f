//! The retention sweep (PRODUCT.md "Retention"): organisations closed more than 90 days ago
//! are purged. It runs when the relay starts and every hour after, and records each purge in
//! the audit log.

use std::time::Duration;

use crate::audit::{Actor, AuditEvent, Outcome};
use crate::{Clock, Store};

/// How long a closed organisation is kept.
pub const CLOSED_ORGANISATION_DAYS: i64 = 90;
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// One sweep at `now`; how many organisations were purged.
pub fn sweep(store: &Store, now: i64) -> anyhow::Result<usize> {
    let purged = store.purge_closed_orgs(now - CLOSED_ORGANISATION_DAYS * 86_400)?;
    for org in &purged {
        store.audit_append(
            now,
            AuditEvent {
                actor: Actor::Operator,
                org: Some(org.id),
                action: "org.purged",
                target: Some(org.handle.clone()),
                outcome: Outcome::Success,
            },
        )?;
    }
    Ok(purged.len())
}

/// Sweeps now and then every hour, until the task is dropped.
pub async fn run(store: Store, clock: Clock) {
    let mut interval = tokio::time::interval(SWEEP_EVERY);
    loop {
        interval.tick().await;
        let store = store.clone();
        let now = clock.now();
        match tokio::task::spawn_blocking(move || sweep(&store, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(count, "retention sweep purged closed organisations"),
            Ok(Err(error)) => {
                tracing::error!(error = format!("{error:#}"), "retention sweep failed")
            }
            Err(error) => tracing::error!(%error, "retention sweep panicked"),
        }
    }
}
