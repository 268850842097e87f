//! The retention sweep (PRODUCT.md "Retention" and "Expiry"): organisations closed more than
//! 90 days ago are purged; expired links and documents lose their wrapped keys and ciphertext;
//! uploads never finalized are deleted after a day (anonymous ones sooner); used-up links lose
//! their ciphertext once their download tokens lapse; any bundle folder left on disk for a
//! bundle that ended or is gone is removed (so a failed or interrupted deletion is retried);
//! and, with mail configured, providers get a reminder of requests due within two days or
//! overdue (at most daily). Every step is idempotent, so a sweep interrupted by a crash simply
//! runs again. It runs when the relay starts and every `SWEEP_EVERY` after (requests enforce
//! expiry on their own as well), and records what it did in the audit log.

use std::time::Duration;

use shared::wire::{DocumentStatus, RequestStatus, Role};

use crate::audit::{Actor, AuditAction, AuditEvent, Outcome};
use crate::config::SendsConfig;
use crate::state::AppState;
use crate::store::Store;
use crate::store::{SendState, StoredTarget};

/// How long a closed organisation is kept.
pub const CLOSED_ORGANISATION_DAYS: i64 = 90;
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// One sweep at `now`; how many organisations were purged. Sign-ups never confirmed are
/// forgotten here too.
pub fn sweep(store: &Store, now: i64) -> anyhow::Result<usize> {
    let forgotten = store.forget_expired_signups(now)?;
    if forgotten > 0 {
        tracing::info!(forgotten, "forgot sign-ups never confirmed");
    }
    let purged = store.purge_closed_orgs(now - CLOSED_ORGANISATION_DAYS * 86_400)?;
    for org in &purged {
        store.audit_append(
            now,
            AuditEvent {
                actor: Actor::Operator,
                org: Some(org.id),
                action: AuditAction::OrgPurged,
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

/// One sweep of the sends at `now`. Every ending is made durable before the bundle's folder
/// is deleted, and a deletion that fails is retried by `sweep_folders`.
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
                let abandoned = store.delete_send_if(id, |send| {
                    send.state == SendState::Uploading && send.created_at <= abandon_before
                })?;
                if !abandoned {
                    continue;
                }
                report.abandoned += 1;
                AuditAction::SendAbandon
            }
            _ if crate::bundles::send_is_due(&send, now) => {
                let ended = crate::bundles::expire_send(store, id, now)?;
                if !matches!(ended, Some((true, _))) {
                    continue;
                }
                report.expired += 1;
                AuditAction::SendExpire
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
                report.purged += 1;
                AuditAction::SendPurge
            }
            _ => continue,
        };
        ended(store, now, org, id, action).await?;
    }
    Ok(report)
}

/// What one sweep of the documents did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentSweep {
    /// Documents past their expiry, now ended with keys and ciphertext deleted.
    pub expired: usize,
    /// Uploads never finalized, deleted.
    pub abandoned: usize,
}

/// One sweep of the documents at `now`: expired documents end, and uploads never finalized go
/// (anonymous ones after `[anonymous] abandon_after_minutes`, others after a day).
pub async fn sweep_documents(state: &AppState, now: i64) -> anyhow::Result<DocumentSweep> {
    let store = &state.store;
    let mut report = DocumentSweep::default();
    let abandon_before = now - i64::from(state.config.sends.unfinished_upload_hours) * 3600;
    let abandon_anonymous_before =
        now - i64::from(state.config.anonymous.abandon_after_minutes) * 60;
    for document in store.documents()? {
        let (id, org) = (document.id, document.org);
        let abandoned = if document.anonymous {
            document.created_at <= abandon_anonymous_before
        } else {
            document.created_at <= abandon_before
        };
        let action = match document.state {
            DocumentStatus::Uploading if abandoned => {
                let created_at = document.created_at;
                let gone = store.delete_document_if(id, |document| {
                    document.state == DocumentStatus::Uploading && document.created_at == created_at
                })?;
                if !gone {
                    continue;
                }
                report.abandoned += 1;
                AuditAction::DocumentAbandon
            }
            _ if crate::bundles::document_is_due(&document, now) => {
                let ended = crate::bundles::expire_document(store, id, now)?;
                if !matches!(ended, Some((true, _))) {
                    continue;
                }
                report.expired += 1;
                AuditAction::DocumentExpire
            }
            _ => continue,
        };
        ended(store, now, org, id, action).await?;
    }
    Ok(report)
}

/// Records what the sweep did to bundle `id`, makes it durable, then deletes the bundle's
/// folder (never the other way round: a crash must not leave a live record without files).
async fn ended(
    store: &Store,
    now: i64,
    org: shared::ids::Id,
    id: shared::ids::Id,
    action: AuditAction,
) -> anyhow::Result<()> {
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
    store.commit().await?;
    store.delete_chunks(id).await
}

/// What the folder sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderSweep {
    /// Bundle folders removed because their bundle ended or no longer exists.
    pub folders: usize,
    /// Used-up links whose key material was still on disk, now deleted.
    pub keys: usize,
}

/// Removes what must not be on disk any more, whatever left it there (a deletion that failed,
/// a crash between a durable ending and the deletion, a late chunk write): every bundle folder
/// whose send or document ended, was deleted or never existed, and the key material of used-up
/// links.
pub async fn sweep_folders(store: &Store) -> anyhow::Result<FolderSweep> {
    let mut report = FolderSweep::default();
    for id in store.stored_bundles().await? {
        let (folder, keys) = (keeps_folder(store, id)?, keeps_keys(store, id)?);
        if folder && keys {
            continue;
        }
        // Delete only on a state that is on disk: the state just read becomes durable here,
        // so a deletion never runs ahead of the ending it follows from (a crash would leave a
        // live record without its files).
        store.commit().await?;
        if !folder {
            store.delete_chunks(id).await?;
            report.folders += 1;
        } else if store.has_keys(id).await? {
            store.delete_keys(id).await?;
            report.keys += 1;
        }
    }
    Ok(report)
}

/// Whether bundle `id`'s folder belongs on disk: its send or document is uploading or live.
fn keeps_folder(store: &Store, id: shared::ids::Id) -> anyhow::Result<bool> {
    Ok(match (store.send(id)?, store.document(id)?) {
        (Some(send), _) => {
            matches!(send.state, SendState::Uploading | SendState::Ready)
                && !send.ciphertext_deleted
        }
        (None, Some(document)) => matches!(
            document.state,
            DocumentStatus::Uploading | DocumentStatus::Ready
        ),
        (None, None) => false,
    })
}

/// Whether bundle `id`'s key material belongs on disk (a used-up link's does not).
fn keeps_keys(store: &Store, id: shared::ids::Id) -> anyhow::Result<bool> {
    Ok(match store.send(id)? {
        Some(send) => send.state != SendState::Ready || send.keeps_keys(),
        None => true,
    })
}

/// Records, once, each open request that passed its due date unanswered (`request.overdue`, the
/// event a webhook reports); how many were found.
pub fn note_overdue_requests(store: &Store, now: i64) -> anyhow::Result<usize> {
    let mut noted = 0;
    for request in store.requests()? {
        if request.overdue_at.is_some()
            || crate::requests::status(store, now, &request)? != RequestStatus::Overdue
        {
            continue;
        }
        let first = store.update_request(request.id, |request| {
            let first = request.overdue_at.is_none();
            request.overdue_at.get_or_insert(now);
            first
        })?;
        if let Some((true, request)) = first {
            store.audit_append(
                now,
                AuditEvent {
                    actor: Actor::Operator,
                    org: Some(request.org),
                    action: AuditAction::RequestOverdue,
                    target: Some(request.id.to_string()),
                    outcome: Outcome::Success,
                },
            )?;
            noted += 1;
        }
    }
    Ok(noted)
}

/// How close to its due date an open request starts being reminded of, and how often.
const REMIND_BEFORE_DUE: i64 = 2 * 86_400;
const REMIND_EVERY: i64 = 86_400;

/// Mails providers about open requests due soon or overdue (with mail configured), at most
/// once a day per request; how many requests were reminded.
pub async fn remind_requests(state: &AppState, now: i64) -> anyhow::Result<usize> {
    let Some(mailer) = state.mailer.clone() else {
        return Ok(0);
    };
    let store = &state.store;
    let mut reminded = 0;
    for request in store.requests()? {
        let status = crate::requests::status(store, now, &request)?;
        let due_soon = request.due_at - now <= REMIND_BEFORE_DUE;
        let recently = request
            .reminded_at
            .is_some_and(|at| now - at < REMIND_EVERY);
        if !matches!(status, RequestStatus::Open | RequestStatus::Overdue) || !due_soon || recently
        {
            continue;
        }
        let Some(org) = store.org(request.org)? else {
            continue;
        };
        let requester = crate::requests::requester_name(store, &request, true)?;
        let when = if status == RequestStatus::Overdue {
            format!("It was due on {} and is overdue.", utc_date(request.due_at))
        } else {
            format!("It is due on {}.", utc_date(request.due_at))
        };
        // Nothing a member typed goes into the subject, and the request's description (which
        // may name a patient or a matter) never into mail: the provider reads it on the page.
        let subject = "Reminder: documents are awaited on Sealpost".to_owned();
        let (addresses, how) = match &request.target {
            StoredTarget::Organisation { org: target } => {
                let Some(target) = store.org(*target)? else {
                    continue;
                };
                let addresses: Vec<String> = store
                    .users_of_org(target.id)?
                    .into_iter()
                    .filter(|user| user.role == Role::Owner || target.intake.contains(&user.id))
                    .map(|user| user.email)
                    .collect();
                let how = format!(
                    "Log in to answer it:\n{}/app/requests/{}",
                    mailer.public_url(),
                    request.id
                );
                (addresses, how)
            }
            StoredTarget::Link {
                provider_email: Some(address),
                ..
            } => (
                vec![address.clone()],
                "Use the link they sent you to upload the documents (this message cannot carry it)."
                    .to_owned(),
            ),
            StoredTarget::Link {
                provider_email: None,
                ..
            } => continue,
        };
        let body = format!(
            "{} of {} asked you for documents. What they asked for is shown when you open the \
             request (it is not repeated in mail).\n\n{when}\n{how}\n\n\
             The names in quotes were typed by that organisation's members. Documents sent \
             through Sealpost are end-to-end encrypted.",
            crate::mail::quoted(&requester),
            crate::mail::quoted(&org.name),
        );
        let mut sent = false;
        for address in &addresses {
            match mailer.send_reminder(address, &subject, body.clone()).await {
                Ok(()) => sent = true,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "could not mail a reminder");
                }
            }
        }
        if sent {
            store.update_request(request.id, |request| request.reminded_at = Some(now))?;
            store.audit_append(
                now,
                AuditEvent {
                    actor: Actor::Operator,
                    org: Some(request.org),
                    action: AuditAction::RequestRemind,
                    target: Some(request.id.to_string()),
                    outcome: Outcome::Success,
                },
            )?;
            reminded += 1;
        }
    }
    Ok(reminded)
}

/// `2026-12-01` from Unix seconds (UTC).
pub fn utc_date(unix_seconds: i64) -> String {
    shared::dates::utc_date(unix_seconds)
}

/// Sweeps now and then every hour, until the task is dropped.
pub async fn run(state: AppState) {
    let mut interval = tokio::time::interval(SWEEP_EVERY);
    let (store, clock, sends) = (
        state.store.clone(),
        state.clock.clone(),
        state.config.sends.clone(),
    );
    loop {
        interval.tick().await;
        let mut ok = true;
        match sweep_sends(&store, &sends, clock.now()).await {
            Ok(report) if report == SendSweep::default() => {}
            Ok(report) => tracing::info!(?report, "retention sweep ended sends"),
            Err(error) => {
                ok = false;
                tracing::error!(error = format!("{error:#}"), "send sweep failed");
            }
        }
        match sweep_documents(&state, clock.now()).await {
            Ok(report) if report == DocumentSweep::default() => {}
            Ok(report) => tracing::info!(?report, "retention sweep ended documents"),
            Err(error) => {
                ok = false;
                tracing::error!(error = format!("{error:#}"), "document sweep failed");
            }
        }
        match note_overdue_requests(&store, clock.now()) {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "requests became overdue"),
            Err(error) => {
                ok = false;
                tracing::error!(
                    error = format!("{error:#}"),
                    "noting overdue requests failed"
                );
            }
        }
        match remind_requests(&state, clock.now()).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "mailed request reminders"),
            Err(error) => {
                ok = false;
                tracing::error!(error = format!("{error:#}"), "reminders failed");
            }
        }
        let purging = store.clone();
        let now = clock.now();
        match tokio::task::spawn_blocking(move || sweep(&purging, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(count, "retention sweep purged closed organisations"),
            Ok(Err(error)) => {
                ok = false;
                tracing::error!(error = format!("{error:#}"), "retention sweep failed");
            }
            Err(error) => {
                ok = false;
                tracing::error!(%error, "retention sweep panicked");
            }
        }
        if let Err(error) = store.commit().await {
            ok = false;
            tracing::error!(
                error = format!("{error:#}"),
                "the sweep's changes could not be made durable"
            );
        }
        // Last: it also removes the bucket objects of bundles purged just above.
        match sweep_folders(&store).await {
            Ok(report) if report == FolderSweep::default() => {}
            Ok(report) => tracing::info!(?report, "retention sweep removed leftover files"),
            Err(error) => {
                ok = false;
                tracing::error!(error = format!("{error:#}"), "folder sweep failed");
            }
        }
        store.metrics().sweep(ok);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(super::utc_date(0), "1970-01-01");
        assert_eq!(super::utc_date(951_782_400), "2000-02-29");
        assert_eq!(super::utc_date(1_796_083_200), "2026-12-01");
        assert_eq!(super::utc_date(-86_400), "1969-12-31");
    }
}
