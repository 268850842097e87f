//! The retention sweep (PRODUCT.md "Retention" and "Expiry"): organisations closed more than
//! 90 days ago are purged; expired links lose their wrapped key and ciphertext; uploads never
//! finalized are deleted after a day; used-up links lose their ciphertext once their download
//! tokens lapse. It runs when the relay starts and every hour after (requests enforce expiry
//! on their own as well), and records what it did in the audit log.

use std::time::Duration;

use crate::audit::{Actor, AuditEvent, Outcome};
use crate::config::SendsConfig;
use crate::store::SendState;
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

/// What one sweep of the sends did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendSweep {
    /// Links past their expiry, now ended with key and ciphertext deleted.
    pub expired: usize,
    /// Uploads never finalized, deleted.
    pub abandoned: usize,
    /// Used-up links whose download tokens lapsed, ciphertext deleted.
    pub purged: usize,
}

/// One sweep of the sends at `now`.
pub async fn sweep_sends(
    store: &Store,
    config: &SendsConfig,
    now: i64,
) -> anyhow::Result<SendSweep> {
    let mut report = SendSweep::default();
    let abandon_before = now - i64::from(config.unfinished_upload_hours) * 3600;
    for send in store.sends()? {
        let (id, org) = (send.id, send.org);
        let action = match send.state {
            SendState::Uploading if send.created_at <= abandon_before => {
                store.delete_chunks(id).await?;
                store.delete_send(id)?;
                report.abandoned += 1;
                Some("send.abandon")
            }
            SendState::Ready | SendState::Uploading if now >= send.expires_at => {
                let ended = store.update_send(id, |send| {
                    if !matches!(send.state, SendState::Ready | SendState::Uploading) {
                        return false;
                    }
                    send.end(SendState::Expired, now);
                    true
                })?;
                if !matches!(ended, Some((true, _))) {
                    continue;
                }
                store.delete_chunks(id).await?;
                report.expired += 1;
                Some("send.expire")
            }
            SendState::Ready
                if send.used_up()
                    && !send.ciphertext_deleted
                    && send.tokens.iter().all(|token| token.expires_at <= now) =>
            {
                let wiped = store.update_send(id, |send| {
                    let lapsed = send.tokens.iter().all(|token| token.expires_at <= now);
                    if send.ciphertext_deleted || !send.used_up() || !lapsed {
                        return false;
                    }
                    send.wipe();
                    true
                })?;
                if !matches!(wiped, Some((true, _))) {
                    continue;
                }
                store.delete_chunks(id).await?;
                report.purged += 1;
                Some("send.purge")
            }
            _ => None,
        };
        if let Some(action) = action {
            store.audit_append(
                now,
                AuditEvent {
                    actor: Actor::Operator,
                    org: Some(org),
                    action,
                    target: Some(id.to_string()),
                    outcome: Outcome::Success,
                },
            )?;
        }
    }
    Ok(report)
}

/// Sweeps now and then every hour, until the task is dropped.
pub async fn run(store: Store, clock: Clock, sends: SendsConfig) {
    let mut interval = tokio::time::interval(SWEEP_EVERY);
    loop {
        interval.tick().await;
        match sweep_sends(&store, &sends, clock.now()).await {
            Ok(report) if report == SendSweep::default() => {}
            Ok(report) => tracing::info!(?report, "retention sweep ended sends"),
            Err(error) => tracing::error!(error = format!("{error:#}"), "send sweep failed"),
        }
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
