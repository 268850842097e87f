//! The audit log's entries and their hash chain (PROTOCOL.md "Audit log"): every entry carries
//! a sequence number, time, actor, organisation, action, target and outcome, and
//! `hash = SHA-256(previous hash ‖ canonical entry)`, where the canonical entry is the JSON of
//! the entry without its hash, fields in declaration order. Any edit, deletion or reordering of
//! stored entries breaks the chain at the first affected entry. Persistence is in
//! `store::audit`; this module owns the format and the verification walk.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::ids::Id;
use shared::wire;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    User { id: Id, ip: Option<String> },
    ApiKey { id: Id, ip: Option<String> },
    Operator,
    Anonymous { ip: Option<String> },
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

macro_rules! audit_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// What an audit entry records. The chain stores (and hashes) each action's dotted name,
        /// so a name never changes: entries written before this enum verify as they did.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            /// Every action, in the order declared.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The stable dotted name stored in the chain, e.g. `auth.login`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    AdminAuditCheckpoint => "admin.audit_checkpoint",
    AdminBackup => "admin.backup",
    AdminAuditVerify => "admin.audit_verify",
    AdminBlocksList => "admin.blocks_list",
    AdminOrgsList => "admin.orgs_list",
    AdminPayoutsReport => "admin.payouts_report",
    AuthJoin => "auth.join",
    AuthLogin => "auth.login",
    AuthLoginPassword => "auth.login_password",
    AuthLogout => "auth.logout",
    AuthLogoutAll => "auth.logout_all",
    AuthMfa => "auth.mfa",
    AuthMfaEnable => "auth.mfa_enable",
    AuthMfaReset => "auth.mfa_reset",
    AuthPasswordChange => "auth.password_change",
    AuthSignup => "auth.signup",
    DocumentAbandon => "document.abandon",
    DocumentCreate => "document.create",
    DocumentExpire => "document.expire",
    DocumentOpen => "document.open",
    DocumentRevoke => "document.revoke",
    GuardIpBlocked => "guard.ip_blocked",
    GuardIpUnblocked => "guard.ip_unblocked",
    InvoiceCheckout => "invoice.checkout",
    InvoiceMarkPaid => "invoice.mark_paid",
    InvoicePaid => "invoice.paid",
    InvoicePartlyRefunded => "invoice.partly_refunded",
    InvoicePaymentFailed => "invoice.payment_failed",
    InvoiceProcessing => "invoice.processing",
    InvoiceRefunded => "invoice.refunded",
    OrgApiKeyCreate => "org.api_key_create",
    OrgApiKeyRevoke => "org.api_key_revoke",
    OrgClose => "org.close",
    OrgInvite => "org.invite",
    OrgInviteMail => "org.invite_mail",
    OrgInviteRevoke => "org.invite_revoke",
    OrgMemberRemove => "org.member_remove",
    OrgOwnershipTransfer => "org.ownership_transfer",
    OrgPolicy => "org.policy",
    OrgPurged => "org.purged",
    OrgReinstate => "org.reinstate",
    OrgRoleChange => "org.role_change",
    OrgSuspend => "org.suspend",
    OrgVerify => "org.verify",
    OrgWebhookCreate => "org.webhook_create",
    OrgWebhookDelete => "org.webhook_delete",
    OrgWebhookReplay => "org.webhook_replay",
    PayoutDetails => "payout.details",
    PayoutRecord => "payout.record",
    PortalDrop => "portal.drop",
    PortalSettings => "portal.settings",
    RequestClose => "request.close",
    RequestCreate => "request.create",
    RequestFulfil => "request.fulfil",
    RequestOverdue => "request.overdue",
    RequestRemind => "request.remind",
    SendAbandon => "send.abandon",
    SendCreate => "send.create",
    SendDestroy => "send.destroy",
    SendExpire => "send.expire",
    SendOpen => "send.open",
    SendPurge => "send.purge",
    SendReceipt => "send.receipt",
    SendRevoke => "send.revoke",
    StripeWebhook => "stripe.webhook",
    TransferCreate => "transfer.create",
}

/// An event to record (the store assigns sequence, time and hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub actor: Actor,
    pub org: Option<Id>,
    /// What happened (stored as its stable dotted name, e.g. `auth.login`).
    pub action: AuditAction,
    /// What was acted on (an id, a handle, an e-mail address), never a secret.
    pub target: Option<String>,
    pub outcome: Outcome,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub time: i64,
    pub actor: Actor,
    pub org: Option<Id>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: Outcome,
    /// How many identical events this entry stands for: 1, or for a summary of repeated
    /// refusals (see `store::audit`), how many more came after the entry that opened the
    /// window. Left out of the JSON when 1, so entries written before it hash as they did.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    #[serde(with = "shared::encoding::array")]
    pub prev: [u8; 32],
    #[serde(with = "shared::encoding::array")]
    pub hash: [u8; 32],
}

fn one() -> u64 {
    1
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_one(count: &u64) -> bool {
    *count == 1
}

/// The entry as hashed: everything but `hash`, in this order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    time: i64,
    actor: &'a Actor,
    org: &'a Option<Id>,
    action: &'a str,
    target: &'a Option<String>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "is_one")]
    count: u64,
    #[serde(with = "shared::encoding::array")]
    prev: [u8; 32],
}

impl AuditEntry {
    /// Builds entry `seq` after the entry whose hash is `prev` (all zeros for the first).
    pub fn new(seq: u64, time: i64, prev: [u8; 32], event: AuditEvent) -> Self {
        Self::repeated(seq, time, prev, event, 1)
    }

    /// Builds entry `seq` standing for `count` identical events.
    pub fn repeated(seq: u64, time: i64, prev: [u8; 32], event: AuditEvent, count: u64) -> Self {
        let mut entry = Self {
            seq,
            time,
            actor: event.actor,
            org: event.org,
            action: event.action.as_str().to_owned(),
            target: event.target,
            outcome: event.outcome,
            count,
            prev,
            hash: [0; 32],
        };
        entry.hash = entry.computed_hash();
        entry
    }

    /// `SHA-256(prev ‖ canonical JSON)`.
    pub fn computed_hash(&self) -> [u8; 32] {
        let canonical = Canonical {
            seq: self.seq,
            time: self.time,
            actor: &self.actor,
            org: &self.org,
            action: &self.action,
            target: &self.target,
            outcome: self.outcome,
            count: self.count,
            prev: self.prev,
        };
        let json = serde_json::to_vec(&canonical).unwrap_or_default();
        Sha256::new()
            .chain_update(self.prev)
            .chain_update(&json)
            .finalize()
            .into()
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: its hash does not match its content (edited)")]
    Altered { seq: u64 },
    #[error("entry {seq}: it does not follow the previous entry's hash (removed or reordered)")]
    Unlinked { seq: u64 },
    #[error("entry {found} found where entry {expected} was due (removed or reordered)")]
    Gap { expected: u64, found: u64 },
    #[error("entry at position {position} cannot be read: {reason}")]
    Unreadable { position: u64, reason: String },
}

/// The relay's audit key: Ed25519, its seed derived from the server secret (HKDF,
/// `sealpost/v1/audit-signing`), so it lives as long as the data directory and needs no file
/// of its own. It signs checkpoints only.
pub struct AuditKey(ring::signature::Ed25519KeyPair);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.public_hex())
    }
}

impl AuditKey {
    pub fn of(server_secret: &[u8; 32]) -> anyhow::Result<Self> {
        let seed =
            shared::crypto::kdf::hkdf32(server_secret, None, &[b"sealpost/v1/audit-signing"]);
        ring::signature::Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
            .map(Self)
            .map_err(|error| anyhow::anyhow!("the audit key cannot be made: {error}"))
    }

    /// The public half, lowercase hex (shown in the app and in every checkpoint).
    pub fn public_hex(&self) -> String {
        use ring::signature::KeyPair as _;
        hex::encode(self.0.public_key().as_ref())
    }

    /// A checkpoint of the entry `seq` with `hash`, signed at `time`.
    pub fn checkpoint(&self, seq: u64, hash: &[u8; 32], time: i64) -> wire::AuditCheckpoint {
        let signature = self
            .0
            .sign(&wire::AuditCheckpoint::message(seq, hash, time));
        wire::AuditCheckpoint {
            version: wire::AuditCheckpoint::VERSION,
            seq,
            hash: hex::encode(hash),
            time,
            relay_key: self.public_hex(),
            signature: hex::encode(signature.as_ref()),
        }
    }
}

/// What a checkpoint kept elsewhere says of the log now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinceError {
    #[error(
        "the checkpoint cannot be read: {0} (give the JSON that `admin audit checkpoint` printed, a file holding it, or <seq>:<hash>)"
    )]
    Malformed(String),
    #[error("the checkpoint's signature does not verify: it was altered or is not the relay's")]
    BadSignature,
    #[error("the checkpoint was signed by audit key {found}, not this relay's ({ours})")]
    OtherKey { found: String, ours: String },
    #[error(
        "the log was cut short: the checkpoint names entry {seq}, but the log holds only {count} entries"
    )]
    Truncated { seq: u64, count: u64 },
    #[error("the log was rewritten: entry {seq} no longer has the hash the checkpoint recorded")]
    Rewritten { seq: u64 },
    #[error("the audit log is broken: {0}")]
    Chain(ChainError),
}

/// A checkpoint as the operator gives it: the JSON `admin audit checkpoint` printed (or an
/// organisation downloaded), or the short `<seq>:<hash hex>`.
pub fn parse_checkpoint(
    text: &str,
) -> Result<(u64, [u8; 32], Option<wire::AuditCheckpoint>), SinceError> {
    let text = text.trim();
    let malformed = |what: &str| SinceError::Malformed(what.to_owned());
    let (seq, hash_hex, signed) = if text.starts_with('{') {
        let checkpoint: wire::AuditCheckpoint =
            serde_json::from_str(text).map_err(|error| SinceError::Malformed(error.to_string()))?;
        if checkpoint.version != wire::AuditCheckpoint::VERSION {
            return Err(malformed("unknown checkpoint version"));
        }
        (checkpoint.seq, checkpoint.hash.clone(), Some(checkpoint))
    } else {
        let (seq, hash) = text.split_once(':').ok_or_else(|| malformed("no ':'"))?;
        let seq = seq
            .trim()
            .parse()
            .map_err(|_| malformed("the entry number is not a number"))?;
        (seq, hash.trim().to_owned(), None)
    };
    let mut hash = [0_u8; 32];
    hex::decode_to_slice(&hash_hex, &mut hash)
        .map_err(|_| malformed("the hash is not 64 hex digits"))?;
    Ok((seq, hash, signed))
}

/// Checks a signed checkpoint against its own key and this relay's (`ours`, hex).
pub fn check_signature(checkpoint: &wire::AuditCheckpoint, ours: &str) -> Result<(), SinceError> {
    if checkpoint.relay_key != ours {
        return Err(SinceError::OtherKey {
            found: checkpoint.relay_key.clone(),
            ours: ours.to_owned(),
        });
    }
    let (Ok(key), Ok(signature), Ok(hash)) = (
        hex::decode(&checkpoint.relay_key),
        hex::decode(&checkpoint.signature),
        hex::decode(&checkpoint.hash),
    ) else {
        return Err(SinceError::BadSignature);
    };
    let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
        return Err(SinceError::BadSignature);
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(
            &wire::AuditCheckpoint::message(checkpoint.seq, &hash, checkpoint.time),
            &signature,
        )
        .map_err(|_| SinceError::BadSignature)
}

/// Walks the whole chain, then checks that the entry a checkpoint named is still there with
/// the hash it had: `Ok(count)` when the log is intact and extends the checkpoint.
pub fn verify_since(
    entries: Vec<Result<AuditEntry, String>>,
    seq: u64,
    hash: &[u8; 32],
) -> Result<u64, SinceError> {
    let at = entries
        .get(usize::try_from(seq).unwrap_or(usize::MAX))
        .and_then(|entry| entry.as_ref().ok())
        .map(|entry| entry.hash);
    let count = verify_chain(entries).map_err(SinceError::Chain)?;
    if seq >= count {
        return Err(SinceError::Truncated { seq, count });
    }
    if at.as_ref() != Some(hash) {
        return Err(SinceError::Rewritten { seq });
    }
    Ok(count)
}

/// Walks entries in order and reports the first broken link; `Ok(count)` when intact.
pub fn verify_chain(
    entries: impl IntoIterator<Item = Result<AuditEntry, String>>,
) -> Result<u64, ChainError> {
    let mut prev = [0_u8; 32];
    let mut expected = 0_u64;
    for (position, entry) in entries.into_iter().enumerate() {
        let entry = entry.map_err(|reason| ChainError::Unreadable {
            position: position as u64,
            reason,
        })?;
        if entry.seq != expected {
            return Err(ChainError::Gap {
                expected,
                found: entry.seq,
            });
        }
        if entry.computed_hash() != entry.hash {
            return Err(ChainError::Altered { seq: entry.seq });
        }
        if entry.prev != prev {
            return Err(ChainError::Unlinked { seq: entry.seq });
        }
        prev = entry.hash;
        expected += 1;
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: AuditAction) -> AuditEvent {
        AuditEvent {
            actor: Actor::Operator,
            org: None,
            action,
            target: Some("acme".to_owned()),
            outcome: Outcome::Success,
        }
    }

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = [0; 32];
        (0..n)
            .map(|seq| {
                let entry =
                    AuditEntry::new(seq, 1_000 + seq as i64, prev, event(AuditAction::OrgVerify));
                prev = entry.hash;
                entry
            })
            .collect()
    }

    fn walk(entries: &[AuditEntry]) -> Result<u64, ChainError> {
        verify_chain(entries.iter().cloned().map(Ok))
    }

    #[test]
    fn a_single_entry_hashes_as_before_counts_existed_and_a_counted_one_verifies() {
        let single = AuditEntry::new(0, 1_000, [0; 32], event(AuditAction::OrgVerify));
        let json = serde_json::to_string(&single).expect("JSON");
        assert!(!json.contains("count"), "{json}");
        let stored: AuditEntry = serde_json::from_str(&json).expect("reads back");
        assert_eq!(stored.count, 1);
        assert_eq!(stored.computed_hash(), single.hash);
        let counted =
            AuditEntry::repeated(1, 1_060, single.hash, event(AuditAction::StripeWebhook), 99);
        assert_ne!(
            counted.computed_hash(),
            AuditEntry::repeated(1, 1_060, single.hash, event(AuditAction::StripeWebhook), 98).hash,
            "the count is hashed"
        );
        assert_eq!(walk(&[single, counted]), Ok(2));
    }

    #[test]
    fn action_names_are_unique_and_never_change() {
        // Stored entries hash these names: renaming one would make every entry written with
        // it fail to verify. Add new actions at the end of both lists; never edit one.
        let names: Vec<&str> = AuditAction::ALL
            .iter()
            .map(|action| action.as_str())
            .collect();
        let written = [
            "admin.audit_checkpoint",
            "admin.backup",
            "admin.audit_verify",
            "admin.blocks_list",
            "admin.orgs_list",
            "admin.payouts_report",
            "auth.join",
            "auth.login",
            "auth.login_password",
            "auth.logout",
            "auth.logout_all",
            "auth.mfa",
            "auth.mfa_enable",
            "auth.mfa_reset",
            "auth.password_change",
            "auth.signup",
            "document.abandon",
            "document.create",
            "document.expire",
            "document.open",
            "document.revoke",
            "guard.ip_blocked",
            "guard.ip_unblocked",
            "invoice.checkout",
            "invoice.mark_paid",
            "invoice.paid",
            "invoice.partly_refunded",
            "invoice.payment_failed",
            "invoice.processing",
            "invoice.refunded",
            "org.api_key_create",
            "org.api_key_revoke",
            "org.close",
            "org.invite",
            "org.invite_mail",
            "org.invite_revoke",
            "org.member_remove",
            "org.ownership_transfer",
            "org.policy",
            "org.purged",
            "org.reinstate",
            "org.role_change",
            "org.suspend",
            "org.verify",
            "org.webhook_create",
            "org.webhook_delete",
            "org.webhook_replay",
            "payout.details",
            "payout.record",
            "portal.drop",
            "portal.settings",
            "request.close",
            "request.create",
            "request.fulfil",
            "request.overdue",
            "request.remind",
            "send.abandon",
            "send.create",
            "send.destroy",
            "send.expire",
            "send.open",
            "send.purge",
            "send.receipt",
            "send.revoke",
            "stripe.webhook",
            "transfer.create",
        ];
        assert_eq!(names, written);
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "no two actions share a name");
        for name in names {
            let (group, rest) = name.split_once('.').expect("a dotted name");
            assert!(!group.is_empty() && !rest.is_empty(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(walk(&chain(5)), Ok(5));
        assert_eq!(walk(&[]), Ok(0));
    }

    #[test]
    fn an_edit_a_removal_and_a_reorder_are_each_found_at_the_first_broken_entry() {
        let mut edited = chain(5);
        edited[2].outcome = Outcome::Failure;
        assert_eq!(walk(&edited), Err(ChainError::Altered { seq: 2 }));

        let mut removed = chain(5);
        removed.remove(3);
        assert_eq!(
            walk(&removed),
            Err(ChainError::Gap {
                expected: 3,
                found: 4
            })
        );

        // A forger who renumbers and rehashes the rest still breaks the link to the past.
        let mut rewritten = chain(5);
        rewritten.remove(1);
        for (seq, entry) in rewritten.iter_mut().enumerate().skip(1) {
            entry.seq = seq as u64;
            entry.hash = entry.computed_hash();
        }
        assert_eq!(walk(&rewritten), Err(ChainError::Unlinked { seq: 1 }));
    }

    #[test]
    fn a_checkpoint_detects_truncation_and_a_rewritten_chain_that_still_verifies() {
        let key = AuditKey::of(&[7; 32]).expect("a key");
        let entries = chain(10);
        let checkpoint = key.checkpoint(6, &entries[6].hash, 5_000);
        let text = serde_json::to_string(&checkpoint).expect("JSON");
        let (seq, hash, signed) = parse_checkpoint(&text).expect("parses");
        assert_eq!(
            check_signature(&signed.expect("signed"), &key.public_hex()),
            Ok(())
        );
        let all = |entries: &[AuditEntry]| entries.iter().cloned().map(Ok).collect::<Vec<_>>();
        assert_eq!(verify_since(all(&entries), seq, &hash), Ok(10));
        // The short form the operator may write down works the same.
        let short = format!("6:{}", checkpoint.hash);
        assert_eq!(
            parse_checkpoint(&short).map(|(seq, hash, _)| (seq, hash)),
            Ok((6, hash))
        );

        // Cutting the tail leaves a chain that verifies on its own, but not since the checkpoint.
        assert_eq!(walk(&entries[..5]), Ok(5));
        assert_eq!(
            verify_since(all(&entries[..5]), seq, &hash),
            Err(SinceError::Truncated { seq: 6, count: 5 })
        );
        // Rewriting an entry and recomputing every later hash also verifies on its own.
        let mut rewritten = entries.clone();
        rewritten[3].target = Some("someone-else".to_owned());
        let mut prev = rewritten[2].hash;
        for entry in rewritten.iter_mut().skip(3) {
            entry.prev = prev;
            entry.hash = entry.computed_hash();
            prev = entry.hash;
        }
        assert_eq!(walk(&rewritten), Ok(10));
        assert_eq!(
            verify_since(all(&rewritten), seq, &hash),
            Err(SinceError::Rewritten { seq: 6 })
        );

        // A checkpoint whose fields were changed, or one of another key, is refused.
        let mut forged = checkpoint.clone();
        forged.seq = 3;
        assert_eq!(
            check_signature(&forged, &key.public_hex()),
            Err(SinceError::BadSignature)
        );
        let other = AuditKey::of(&[8; 32]).expect("a key");
        assert!(matches!(
            check_signature(&checkpoint, &other.public_hex()),
            Err(SinceError::OtherKey { .. })
        ));
        assert!(matches!(
            parse_checkpoint("6:zz"),
            Err(SinceError::Malformed(_))
        ));
    }
}
