//! Operator commands (`sealpost-relay admin …`). A running relay listens for them on a Unix
//! socket in its data directory (`admin/admin.sock`, inside a folder of mode 0700 so that the
//! socket is never reachable by others, not even for the instant between bind and chmod:
//! whoever can open it is the operator, as whoever can read the data directory already is). When no relay runs, the command opens
//! the store itself. One JSON line in, one JSON line out. Every command is audited as the
//! operator.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};

use shared::wire::OrgStatus;

use crate::audit::{Actor, AuditAction, AuditEvent, Outcome};
use crate::state::AppState;
use crate::store::Store;

/// The socket's folder and file name inside the data directory.
pub const SOCKET_DIR: &str = "admin";
pub const SOCKET_NAME: &str = "admin.sock";
/// Longest command line accepted.
const MAX_LINE: usize = 64 * 1024;

/// What the operator can ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum AdminCommand {
    /// Walks the audit log's hash chain and names the first broken entry; with a checkpoint
    /// kept elsewhere (`AuditCheckpoint`'s JSON, or `<seq>:<hash>`), also that the entry it
    /// names is still there with the same hash (no truncation, no rewriting).
    AuditVerify { since: Option<String> },
    /// Signs where the log stands now, for the operator to keep outside the relay.
    AuditCheckpoint,
    /// Lists organisations, all or those with one status.
    OrgsList { status: Option<OrgStatus> },
    /// Verifies a pending (or reinstates a suspended) organisation: it may send and request.
    OrgVerify { handle: String },
    /// Suspends an organisation: its users may log in but not send or request.
    OrgSuspend { handle: String },
    /// Lifts a suspension (the organisation becomes verified again).
    OrgReinstate { handle: String },
    /// Lists IP addresses blocked for failed attempts.
    BlocksList,
    /// Lifts the block of one IP address (and forgets its recent failures).
    BlockLift { ip: String },
    /// What each organisation is owed from card payments, per currency, with its payout
    /// details.
    PayoutsReport,
    /// Records a payout made to an organisation (an amount as typed, e.g. "12.50").
    PayoutRecord {
        handle: String,
        amount: String,
        currency: String,
        reference: String,
    },
    /// Removes a user's second factor and ends their sessions: the only way an owner's goes
    /// when they lost both their authenticator and their recovery codes (no member may).
    UserMfaReset { email: String },
    /// Writes a backup of the data directory to `path` (absolute; written by the relay's
    /// user), consistent while the relay serves (`store::backup`).
    Backup { path: PathBuf },
}

/// The answer: whether it worked, a sentence for the operator, and data for scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminResponse {
    pub ok: bool,
    pub message: String,
    #[serde(default)]
    pub data: serde_json::Value,
    /// The organisation the command concerned, for the audit entry.
    #[serde(skip)]
    org: Option<shared::ids::Id>,
}

impl AdminResponse {
    fn ok(message: String, data: serde_json::Value) -> Self {
        Self {
            ok: true,
            message,
            data,
            org: None,
        }
    }

    fn failed(message: String) -> Self {
        Self {
            ok: false,
            message,
            data: serde_json::Value::Null,
            org: None,
        }
    }
}

/// Runs a command against a store.
pub fn execute(store: &Store, now: i64, command: &AdminCommand) -> AdminResponse {
    let response = match command {
        AdminCommand::AuditVerify { since } => audit_verify(store, since.as_deref()),
        AdminCommand::AuditCheckpoint => audit_checkpoint(store, now),
        AdminCommand::OrgsList { status } => orgs_list(store, *status),
        AdminCommand::OrgVerify { handle } => {
            org_set_status(store, now, handle, OrgStatus::Verified, None)
        }
        AdminCommand::OrgSuspend { handle } => {
            org_set_status(store, now, handle, OrgStatus::Suspended, None)
        }
        AdminCommand::OrgReinstate { handle } => org_set_status(
            store,
            now,
            handle,
            OrgStatus::Verified,
            Some(OrgStatus::Suspended),
        ),
        AdminCommand::BlocksList => blocks_list(store, now),
        AdminCommand::BlockLift { ip } => block_lift(store, ip),
        AdminCommand::PayoutsReport => payouts_report(store),
        AdminCommand::PayoutRecord {
            handle,
            amount,
            currency,
            reference,
        } => payout_record(store, now, handle, amount, currency, reference),
        AdminCommand::UserMfaReset { email } => user_mfa_reset(store, email),
        AdminCommand::Backup { path } => backup(store, now, path),
    };
    let outcome = if response.ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let event = AuditEvent {
        actor: Actor::Operator,
        org: response.org,
        action: command.audit_action(),
        target: command.target(),
        outcome,
    };
    if let Err(error) = store.audit_append(now, event) {
        return AdminResponse::failed(format!(
            "{}; and it could not be audited: {error:#}",
            response.message
        ));
    }
    response
}

impl AdminCommand {
    fn audit_action(&self) -> AuditAction {
        match self {
            AdminCommand::AuditVerify { .. } => AuditAction::AdminAuditVerify,
            AdminCommand::AuditCheckpoint => AuditAction::AdminAuditCheckpoint,
            AdminCommand::OrgsList { .. } => AuditAction::AdminOrgsList,
            AdminCommand::OrgVerify { .. } => AuditAction::OrgVerify,
            AdminCommand::OrgSuspend { .. } => AuditAction::OrgSuspend,
            AdminCommand::OrgReinstate { .. } => AuditAction::OrgReinstate,
            AdminCommand::BlocksList => AuditAction::AdminBlocksList,
            AdminCommand::BlockLift { .. } => AuditAction::GuardIpUnblocked,
            AdminCommand::PayoutsReport => AuditAction::AdminPayoutsReport,
            AdminCommand::PayoutRecord { .. } => AuditAction::PayoutRecord,
            AdminCommand::UserMfaReset { .. } => AuditAction::AuthMfaReset,
            AdminCommand::Backup { .. } => AuditAction::AdminBackup,
        }
    }

    fn target(&self) -> Option<String> {
        match self {
            AdminCommand::AuditVerify { .. }
            | AdminCommand::AuditCheckpoint
            | AdminCommand::OrgsList { .. }
            | AdminCommand::BlocksList
            | AdminCommand::PayoutsReport
            | AdminCommand::Backup { .. } => None,
            AdminCommand::PayoutRecord { handle, .. } => Some(handle.clone()),
            AdminCommand::BlockLift { ip } => Some(ip.clone()),
            AdminCommand::UserMfaReset { email } => Some(email.clone()),
            AdminCommand::OrgVerify { handle }
            | AdminCommand::OrgSuspend { handle }
            | AdminCommand::OrgReinstate { handle } => Some(handle.clone()),
        }
    }
}

fn payouts_report(store: &Store) -> AdminResponse {
    let orgs = match store.orgs(None) {
        Ok(orgs) => orgs,
        Err(error) => {
            return AdminResponse::failed(format!("cannot read organisations: {error:#}"));
        }
    };
    let mut lines = Vec::new();
    let mut data = Vec::new();
    for org in orgs {
        let (entries, details) = match (store.ledger_of_org(org.id), store.payout_details(org.id)) {
            (Ok(entries), Ok(details)) => (entries, details),
            (Err(error), _) | (_, Err(error)) => {
                return AdminResponse::failed(format!(
                    "cannot read {}'s ledger: {error:#}",
                    org.handle
                ));
            }
        };
        if entries.is_empty() {
            continue;
        }
        let report = crate::paywall::payout_lines(&entries);
        for line in &report {
            lines.push(format!(
                "{:<32} owed {:>16}  (card {}, refunded {}, paid out {}; collected directly {})",
                org.handle,
                shared::money::format_signed(i128::from(line.owed), line.currency),
                shared::money::format_amount(line.collected_by_card, line.currency),
                shared::money::format_amount(line.refunded, line.currency),
                shared::money::format_amount(line.paid_out, line.currency),
                shared::money::format_amount(line.collected_directly, line.currency),
            ));
        }
        if !details.account.is_empty() {
            lines.push(format!(
                "{:<32} pay to {} · {} · {}",
                "", details.account_holder, details.account, details.bank
            ));
        }
        data.push(serde_json::json!({
            "handle": org.handle,
            "name": org.name,
            "details": details,
            "lines": report,
        }));
    }
    let message = if lines.is_empty() {
        "no payments recorded".to_owned()
    } else {
        lines.join("\n")
    };
    AdminResponse::ok(message, serde_json::Value::Array(data))
}

fn payout_record(
    store: &Store,
    now: i64,
    handle: &str,
    amount: &str,
    currency: &str,
    reference: &str,
) -> AdminResponse {
    let org = match store.org_by_handle(handle) {
        Ok(Some(org)) => org,
        Ok(None) => {
            return AdminResponse::failed(format!("no organisation has the handle {handle:?}"));
        }
        Err(error) => {
            return AdminResponse::failed(format!("cannot read organisations: {error:#}"));
        }
    };
    let parsed = shared::money::Currency::parse(currency)
        .and_then(|currency| {
            shared::money::parse_amount(amount, currency).map(|minor| (minor, currency))
        })
        .map_err(crate::paywall::EntryRefusal::Amount)
        .and_then(|(minor, currency)| {
            crate::paywall::checked_payout(minor, currency, reference)
                .map(|reference| (minor, currency, reference))
        });
    let (minor, currency, reference) = match parsed {
        Ok(parsed) => parsed,
        Err(refusal) => {
            let mut response = AdminResponse::failed(format!("nothing recorded: {refusal}"));
            response.org = Some(org.id);
            return response;
        }
    };
    let mut response = match store.record_payout(org.id, minor, currency, reference, now) {
        Ok(entry) => AdminResponse::ok(
            format!(
                "recorded a payout of {} to {}",
                shared::money::format_amount(minor, currency),
                org.handle
            ),
            serde_json::json!({ "seq": entry.seq }),
        ),
        Err(error) => AdminResponse::failed(format!("cannot record the payout: {error:#}")),
    };
    response.org = Some(org.id);
    response
}

fn blocks_list(store: &Store, now: i64) -> AdminResponse {
    match store.ip_blocks(now) {
        Ok(blocks) => {
            let message = if blocks.is_empty() {
                "no blocked addresses".to_owned()
            } else {
                blocks
                    .iter()
                    .map(|block| {
                        format!(
                            "{:<40} {} failures, {} minutes left",
                            block.ip,
                            block.failures,
                            (block.until - now).div_euclid(60)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let data = serde_json::to_value(&blocks).unwrap_or_default();
            AdminResponse::ok(message, data)
        }
        Err(error) => AdminResponse::failed(format!("cannot list blocks: {error:#}")),
    }
}

fn block_lift(store: &Store, ip: &str) -> AdminResponse {
    match store.remove_ip_block(&crate::client_ip::network_of(ip)) {
        Ok(true) => AdminResponse::ok(
            format!("{ip} is no longer blocked"),
            serde_json::Value::Null,
        ),
        Ok(false) => AdminResponse::failed(format!("{ip} is not blocked")),
        Err(error) => AdminResponse::failed(format!("cannot lift the block: {error:#}")),
    }
}

fn orgs_list(store: &Store, status: Option<OrgStatus>) -> AdminResponse {
    match store.orgs(status) {
        Ok(orgs) => {
            let lines: Vec<String> = orgs
                .iter()
                .map(|org| {
                    format!(
                        "{:<32} {:<10} {}",
                        org.handle,
                        format!("{:?}", org.status).to_lowercase(),
                        org.name
                    )
                })
                .collect();
            let message = if lines.is_empty() {
                "no organisations".to_owned()
            } else {
                lines.join("\n")
            };
            let data = orgs
                .iter()
                .map(|org| serde_json::json!({ "id": org.id, "handle": org.handle, "name": org.name, "status": org.status, "created_at": org.created_at }))
                .collect();
            AdminResponse::ok(message, serde_json::Value::Array(data))
        }
        Err(error) => AdminResponse::failed(format!("cannot list organisations: {error:#}")),
    }
}

fn org_set_status(
    store: &Store,
    now: i64,
    handle: &str,
    status: OrgStatus,
    only_from: Option<OrgStatus>,
) -> AdminResponse {
    let current = match store.org_by_handle(handle) {
        Ok(Some(org)) => org,
        Ok(None) => {
            return AdminResponse::failed(format!("no organisation has the handle {handle:?}"));
        }
        Err(error) => {
            return AdminResponse::failed(format!("cannot read organisations: {error:#}"));
        }
    };
    // Decided on the organisation as it is when the change is written, not as read above.
    let updated = store.update_org(current.id, None, |org| {
        if org.status == OrgStatus::Closed {
            return Err(format!("{handle} is closed by its owner; nothing changed"));
        }
        if let Some(required) = only_from
            && org.status != required
        {
            return Err(format!(
                "{handle} is {:?}, not {:?}; nothing changed",
                org.status, required
            ));
        }
        if org.status != status {
            org.status = status;
            org.status_changed_at = now;
        }
        Ok(())
    });
    let mut response = match updated {
        Ok(crate::store::Updated::Done {
            outcome: Ok(()),
            record: org,
        }) => AdminResponse::ok(
            format!("{} is now {:?}", org.handle, org.status).to_lowercase(),
            serde_json::json!({ "handle": org.handle, "status": org.status }),
        ),
        Ok(crate::store::Updated::Done {
            outcome: Err(message),
            ..
        }) => AdminResponse::failed(message),
        Ok(_) => AdminResponse::failed(format!("no organisation has the handle {handle:?}")),
        Err(error) => AdminResponse::failed(format!("cannot change {handle}: {error:#}")),
    };
    response.org = Some(current.id);
    response
}

fn user_mfa_reset(store: &Store, email: &str) -> AdminResponse {
    let user = match store.user_by_email(email) {
        Ok(Some(user)) => user,
        Ok(None) => return AdminResponse::failed(format!("no account has the address {email:?}")),
        Err(error) => return AdminResponse::failed(format!("cannot read accounts: {error:#}")),
    };
    let updated = store.update_user(user.id, None, false, |user| {
        let had = user.mfa.is_some() || user.mfa_pending.is_some();
        user.mfa = None;
        user.mfa_pending = None;
        user.session_epoch += 1;
        had
    });
    let mut response = match updated {
        Ok(crate::store::Updated::Done { outcome, record }) => {
            if let Err(error) = store.delete_sessions_of(record.id, None) {
                return AdminResponse::failed(format!(
                    "the second factor of {email} is removed, but its sessions could not be listed for deletion: {error:#}"
                ));
            }
            let what = if outcome {
                "second factor removed"
            } else {
                "had no second factor"
            };
            AdminResponse::ok(
                format!("{}: {what}; every session ended", record.email),
                serde_json::json!({ "email": record.email, "had_second_factor": outcome }),
            )
        }
        Ok(_) => AdminResponse::failed(format!("no account has the address {email:?}")),
        Err(error) => AdminResponse::failed(format!("cannot change {email}: {error:#}")),
    };
    response.org = Some(user.org);
    response
}

fn audit_verify(store: &Store, since: Option<&str>) -> AdminResponse {
    let entries = match store.audit_entries() {
        Ok(entries) => entries,
        Err(error) => {
            return AdminResponse::failed(format!("the audit log cannot be read: {error:#}"));
        }
    };
    let Some(since) = since else {
        return match crate::audit::verify_chain(entries) {
            Ok(count) => AdminResponse::ok(
                format!("the audit log is intact: {count} entries"),
                serde_json::json!({ "entries": count }),
            ),
            Err(broken) => AdminResponse {
                ok: false,
                message: format!("the audit log is broken: {broken}"),
                data: serde_json::json!({ "broken": broken.to_string() }),
                org: None,
            },
        };
    };
    let checked = crate::audit::parse_checkpoint(since).and_then(|(seq, hash, signed)| {
        if let Some(signed) = &signed {
            let ours = crate::audit::AuditKey::of(store.server_secret())
                .map_err(|error| crate::audit::SinceError::Malformed(format!("{error:#}")))?
                .public_hex();
            crate::audit::check_signature(signed, &ours)?;
        }
        crate::audit::verify_since(entries, seq, &hash).map(|count| (seq, count))
    });
    match checked {
        Ok((seq, count)) => AdminResponse::ok(
            format!(
                "the audit log is intact: {count} entries, and entry {seq} is as the checkpoint recorded"
            ),
            serde_json::json!({ "entries": count, "since": seq }),
        ),
        Err(broken) => AdminResponse {
            ok: false,
            message: broken.to_string(),
            data: serde_json::json!({ "broken": broken.to_string() }),
            org: None,
        },
    }
}

fn audit_checkpoint(store: &Store, now: i64) -> AdminResponse {
    match store.audit_checkpoint(now) {
        Ok(Some(checkpoint)) => {
            let json = serde_json::to_string(&checkpoint).unwrap_or_default();
            AdminResponse::ok(
                format!(
                    "the audit log ends at entry {} ({}). Keep this line where the relay cannot change it; later, \
                     `admin audit verify --since '<it>'` shows whether the log was cut short or rewritten:\n{json}",
                    checkpoint.seq, checkpoint.hash
                ),
                serde_json::to_value(&checkpoint).unwrap_or_default(),
            )
        }
        Ok(None) => AdminResponse::failed("the audit log is empty: nothing to sign yet".to_owned()),
        Err(error) => AdminResponse::failed(format!("no checkpoint: {error:#}")),
    }
}

fn backup(store: &Store, now: i64, path: &Path) -> AdminResponse {
    if !path.is_absolute() {
        return AdminResponse::failed(format!(
            "the backup's path must be absolute (the relay may run in another folder): {}",
            path.display()
        ));
    }
    if path.exists() {
        return AdminResponse::failed(format!(
            "{} exists: choose a new file, a backup never overwrites one",
            path.display()
        ));
    }
    match store.backup_blocking(path, now) {
        Ok(report) => AdminResponse::ok(
            format!(
                "backed up {} bundles ({} files, {} bytes, {} audit entries) to {} ({} bytes) in {:.1} s; changes waited {} ms. \
                 It holds ciphertext and metadata only, but also the server secret and the TOTP secrets: keep it as safe as the data directory.",
                report.bundles,
                report.files,
                report.bytes,
                report.audit_entries,
                report.path.display(),
                report.archive_bytes,
                report.seconds,
                report.paused_ms
            ),
            serde_json::to_value(&report).unwrap_or_default(),
        ),
        Err(error) => AdminResponse::failed(format!("no backup: {error:#}")),
    }
}

/// Path of the admin socket for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_DIR).join(SOCKET_NAME)
}

/// Binds the admin socket (replacing a stale one) in a 0700 folder, itself 0600.
pub fn bind(data_dir: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    let folder = data_dir.join(SOCKET_DIR);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("while creating {}", folder.display()))?;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
        .context("while restricting the admin folder to its owner")?;
    let path = socket_path(data_dir);
    if path.exists() {
        std::fs::remove_file(&path)
            .with_context(|| format!("while removing the stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("while binding the admin socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .context("while restricting the admin socket to its owner")?;
    Ok(listener)
}

/// Answers admin connections until the task is dropped.
pub async fn serve(listener: UnixListener, state: AppState) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = answer(stream, &state).await {
                tracing::warn!(error = format!("{error:#}"), "admin connection failed");
            }
        });
    }
}

async fn answer(stream: UnixStream, state: &AppState) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_LINE as u64);
    reader
        .read_line(&mut line)
        .await
        .context("while reading a command")?;
    let response = match serde_json::from_str::<AdminCommand>(&line) {
        Ok(command) => {
            let store = state.store.clone();
            let now = state.clock.now();
            let response = tokio::task::spawn_blocking(move || execute(&store, now, &command))
                .await
                .context("the admin command panicked")?;
            // The answer says only what is on disk.
            match state.store.commit().await {
                Ok(()) => response,
                Err(error) => AdminResponse::failed(format!(
                    "{}; but it could not be made durable, so it may be lost: {error:#}",
                    response.message
                )),
            }
        }
        Err(error) => AdminResponse::failed(format!("not a command: {error}")),
    };
    let mut out = serde_json::to_vec(&response).context("while encoding the answer")?;
    out.push(b'\n');
    write.write_all(&out).await.context("while answering")?;
    Ok(())
}

/// Sends a command to the relay running on `data_dir`; `Ok(None)` when none is running.
pub async fn send(
    data_dir: &Path,
    command: &AdminCommand,
) -> anyhow::Result<Option<AdminResponse>> {
    let path = socket_path(data_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(command).context("while encoding the command")?;
    line.push(b'\n');
    write
        .write_all(&line)
        .await
        .context("while sending the command")?;
    let mut answer = String::new();
    BufReader::new(read)
        .read_line(&mut answer)
        .await
        .context("while reading the answer")?;
    let response = serde_json::from_str(&answer).context("the relay's answer is not valid")?;
    Ok(Some(response))
}
