//! The audit log's entries and their hash chain (PROTOCOL.md "Audit log"): every entry carries
//! a sequence number, time, actor, organisation, action, target and outcome, and
//! `hash = SHA-256(previous hash ‖ canonical entry)`, where the canonical entry is the JSON of
//! the entry without its hash, fields in declaration order. Any edit, deletion or reordering of
//! stored entries breaks the chain at the first affected entry. Persistence is in
//! `store::audit`; this module owns the format and the verification walk.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::ids::Id;

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

/// An event to record (the store assigns sequence, time and hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub actor: Actor,
    pub org: Option<Id>,
    /// A stable dotted name such as `auth.login` or `org.verify`.
    pub action: &'static str,
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
            action: event.action.to_owned(),
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

    fn event(action: &'static str) -> AuditEvent {
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
                let entry = AuditEntry::new(seq, 1_000 + seq as i64, prev, event("org.verify"));
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
        let single = AuditEntry::new(0, 1_000, [0; 32], event("org.verify"));
        let json = serde_json::to_string(&single).expect("JSON");
        assert!(!json.contains("count"), "{json}");
        let stored: AuditEntry = serde_json::from_str(&json).expect("reads back");
        assert_eq!(stored.count, 1);
        assert_eq!(stored.computed_hash(), single.hash);
        let counted = AuditEntry::repeated(1, 1_060, single.hash, event("stripe.webhook"), 99);
        assert_ne!(
            counted.computed_hash(),
            AuditEntry::repeated(1, 1_060, single.hash, event("stripe.webhook"), 98).hash,
            "the count is hashed"
        );
        assert_eq!(walk(&[single, counted]), Ok(2));
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
}
