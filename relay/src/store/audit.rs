//! Persistence of the audit log: entries in the `audit` tree under their big-endian sequence
//! number, appended under a lock so that sequence and chain stay gap-free, never rewritten.
//! Repeated refusals of one anonymous source are aggregated (see `audit_append`), so a flood
//! of them keeps the chain useful and bounded.

use anyhow::Context as _;
use shared::ids::Id;

use super::Store;
use crate::audit::{Actor, AuditAction, AuditEntry, AuditEvent, ChainError, Outcome, verify_chain};
use std::collections::HashMap;

const TREE: &str = "audit";

/// The audit log's head: the next number and the last entry's hash.
pub(super) type Head = (u64, [u8; 32]);

/// Identical refusals within this many seconds of the first are counted, not each written.
pub const REPEAT_WINDOW_SECONDS: i64 = 60;
/// Windows open at once; past this, refusals are written one by one again (never dropped).
const MAX_OPEN_WINDOWS: usize = 10_000;

/// What makes two refusals identical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RepeatKey {
    ip: Option<String>,
    org: Option<Id>,
    action: AuditAction,
    target: Option<String>,
}

/// An open window: when it opened, and the refusals counted since its first.
#[derive(Debug, Clone)]
struct Window {
    opened: i64,
    repeats: u64,
    event: AuditEvent,
}

/// The open windows of repeated refusals.
#[derive(Debug, Default)]
pub(super) struct Repeats(HashMap<RepeatKey, Window>);

fn repeat_key(event: &AuditEvent) -> Option<RepeatKey> {
    match (&event.actor, event.outcome) {
        (Actor::Anonymous { ip }, Outcome::Denied) => Some(RepeatKey {
            ip: ip.clone(),
            org: event.org,
            action: event.action,
            target: event.target.clone(),
        }),
        _ => None,
    }
}

impl Store {
    /// Appends an event at time `now` and returns the stored entry. A refusal of an anonymous
    /// client (`Outcome::Denied`) that repeats one from the same address within
    /// `REPEAT_WINDOW_SECONDS` is only counted (`None`); the count is written as one summary
    /// entry when the window closes (`audit_flush_repeats`), so a flood of refusals costs
    /// the chain two entries a minute per source, not one per request.
    pub fn audit_append(&self, now: i64, event: AuditEvent) -> anyhow::Result<Option<AuditEntry>> {
        self.metrics.event(event.action, event.outcome);
        if let Some(key) = repeat_key(&event) {
            let closed = {
                let mut repeats = self
                    .audit_repeats
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the audit repeats lock is poisoned"))?;
                if let Some(window) = repeats.0.get_mut(&key)
                    && now - window.opened < REPEAT_WINDOW_SECONDS
                {
                    window.repeats += 1;
                    return Ok(None);
                }
                let room = repeats.0.len() < MAX_OPEN_WINDOWS || repeats.0.contains_key(&key);
                if room {
                    let fresh = Window {
                        opened: now,
                        repeats: 0,
                        event: event.clone(),
                    };
                    repeats.0.insert(key, fresh)
                } else {
                    None
                }
            };
            if let Some(window) = closed
                && window.repeats > 0
            {
                self.audit_write(now, window.event, window.repeats)?;
            }
        }
        self.audit_write(now, event, 1).map(Some)
    }

    /// Writes the summary of every window of repeated refusals that has closed by `now` (all
    /// of them with `all`, at shutdown); how many summaries were written.
    pub fn audit_flush_repeats(&self, now: i64, all: bool) -> anyhow::Result<usize> {
        let closed: Vec<Window> = {
            let mut repeats = self
                .audit_repeats
                .lock()
                .map_err(|_| anyhow::anyhow!("the audit repeats lock is poisoned"))?;
            let keys: Vec<RepeatKey> = repeats
                .0
                .iter()
                .filter(|(_, window)| all || now - window.opened >= REPEAT_WINDOW_SECONDS)
                .map(|(key, _)| key.clone())
                .collect();
            keys.iter()
                .filter_map(|key| repeats.0.remove(key))
                .collect()
        };
        let mut written = 0;
        for window in closed {
            if window.repeats > 0 {
                self.audit_write(now, window.event, window.repeats)?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Appends one entry standing for `count` events. The head (next number, last hash) is
    /// read from the tree once and then kept under the lock.
    fn audit_write(&self, now: i64, event: AuditEvent, count: u64) -> anyhow::Result<AuditEntry> {
        let tree = self.tree(TREE).context("while opening the audit log")?;
        let mut head = self
            .audit_lock
            .lock()
            .map_err(|_| anyhow::anyhow!("the audit log lock is poisoned"))?;
        let (seq, prev) = match *head {
            Some(head) => head,
            None => match tree.last().context("while reading the audit log's head")? {
                Some((_, value)) => {
                    let last: AuditEntry = serde_json::from_slice(&value)
                        .context("the audit log's head is corrupt")?;
                    (last.seq + 1, last.hash)
                }
                None => (0, [0; 32]),
            },
        };
        let entry = AuditEntry::repeated(seq, now, prev, event, count);
        let value = serde_json::to_vec(&entry).context("while encoding an audit entry")?;
        tree.insert(seq.to_be_bytes(), value)
            .context("while appending to the audit log")?;
        *head = Some((seq + 1, entry.hash));
        Ok(entry)
    }

    /// Every entry in order; unreadable ones as errors (for verification to report).
    pub fn audit_entries(&self) -> anyhow::Result<Vec<Result<AuditEntry, String>>> {
        let tree = self.tree(TREE).context("while opening the audit log")?;
        Ok(tree
            .iter()
            .map(|item| {
                let (_, value) = item.map_err(|error| error.to_string())?;
                serde_json::from_slice::<AuditEntry>(&value).map_err(|error| error.to_string())
            })
            .collect())
    }

    /// At most `limit` entries from number `from` on, oldest first.
    pub fn audit_entries_from(&self, from: u64, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let tree = self.tree(TREE).context("while opening the audit log")?;
        let mut entries = Vec::new();
        for item in tree.raw().range(from.to_be_bytes()..).take(limit) {
            let (_, value) = item.context("while reading the audit log")?;
            entries.push(serde_json::from_slice(&value).context("an audit entry is corrupt")?);
        }
        Ok(entries)
    }

    /// The entries of one organisation, newest first, at most `limit`.
    pub fn audit_entries_of_org(&self, org: Id, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let tree = self.tree(TREE).context("while opening the audit log")?;
        let mut entries = Vec::new();
        for item in tree.iter().rev() {
            let (_, value) = item.context("while reading the audit log")?;
            let entry: AuditEntry =
                serde_json::from_slice(&value).context("an audit entry is corrupt")?;
            if entry.org == Some(org) {
                entries.push(entry);
                if entries.len() == limit {
                    break;
                }
            }
        }
        Ok(entries)
    }

    /// The last entry, if the log has any.
    pub fn audit_last(&self) -> anyhow::Result<Option<AuditEntry>> {
        let tree = self.tree(TREE).context("while opening the audit log")?;
        tree.last()
            .context("while reading the audit log")?
            .map(|(_, value)| {
                serde_json::from_slice(&value).context("the last audit entry is corrupt")
            })
            .transpose()
    }

    /// A checkpoint of the log as it stands, signed with the relay's audit key.
    pub fn audit_checkpoint(
        &self,
        now: i64,
    ) -> anyhow::Result<Option<shared::wire::AuditCheckpoint>> {
        let key = crate::audit::AuditKey::of(self.server_secret())?;
        Ok(self
            .audit_last()?
            .map(|last| key.checkpoint(last.seq, &last.hash, now)))
    }

    /// Walks the whole chain; `Ok(count)` when intact, else the first broken entry.
    pub fn audit_verify(&self) -> anyhow::Result<Result<u64, ChainError>> {
        Ok(verify_chain(self.audit_entries()?))
    }

    #[cfg(test)]
    pub(crate) fn audit_overwrite_for_test(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        self.forget_audit_head()?;
        let tree = self.tree(TREE)?;
        tree.insert(entry.seq.to_be_bytes(), serde_json::to_vec(entry)?)?;
        Ok(())
    }

    #[cfg(test)]
    fn forget_audit_head(&self) -> anyhow::Result<()> {
        *self
            .audit_lock
            .lock()
            .map_err(|_| anyhow::anyhow!("the audit log lock is poisoned"))? = None;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn audit_remove_for_test(&self, seq: u64) -> anyhow::Result<()> {
        self.forget_audit_head()?;
        self.tree(TREE)?.remove(seq.to_be_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::audit::{Actor, AuditAction, AuditEvent, ChainError, Outcome};
    use crate::store::Store;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            actor: Actor::Anonymous {
                ip: Some(format!("192.0.2.{n}")),
            },
            org: None,
            action: AuditAction::AuthLogin,
            target: Some(format!("user{n}@example.com")),
            outcome: Outcome::Failure,
        }
    }

    #[test]
    fn appended_entries_chain_survive_reopening_and_tampering_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("opens");
            for n in 0..4 {
                let entry = store
                    .audit_append(100 + n as i64, event(n))
                    .expect("appends")
                    .expect("a failure is written at once");
                assert_eq!(entry.seq, n as u64);
            }
        }
        let store = Store::open(dir.path()).expect("reopens");
        assert_eq!(store.audit_verify().expect("reads"), Ok(4));
        let next = store
            .audit_append(200, event(9))
            .expect("appends after reopening")
            .expect("written");
        assert_eq!(next.seq, 4);

        let mut entries: Vec<_> = store
            .audit_entries()
            .expect("reads")
            .into_iter()
            .map(|entry| entry.expect("readable"))
            .collect();
        entries[2].target = Some("someone-else@example.com".to_owned());
        store
            .audit_overwrite_for_test(&entries[2])
            .expect("tampers");
        assert_eq!(
            store.audit_verify().expect("reads"),
            Err(ChainError::Altered { seq: 2 })
        );
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        for n in 0..3 {
            store.audit_append(1, event(n)).expect("appends");
        }
        store.audit_remove_for_test(1).expect("deletes");
        assert_eq!(
            store.audit_verify().expect("reads"),
            Err(ChainError::Gap {
                expected: 1,
                found: 2
            })
        );
    }

    #[test]
    fn identical_refusals_within_a_window_are_one_counted_entry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        let refusal = || AuditEvent {
            actor: Actor::Anonymous {
                ip: Some("203.0.113.9".to_owned()),
            },
            org: None,
            action: AuditAction::StripeWebhook,
            target: None,
            outcome: Outcome::Denied,
        };
        let first = store.audit_append(100, refusal()).expect("appends");
        assert!(first.is_some(), "the first refusal is written at once");
        for second in 1..50 {
            assert!(
                store
                    .audit_append(100 + second, refusal())
                    .expect("appends")
                    .is_none(),
                "repeats within the window are counted"
            );
        }
        // A failure (not a refusal) is never folded.
        assert!(
            store
                .audit_append(120, event(1))
                .expect("appends")
                .is_some()
        );
        assert_eq!(
            store.audit_flush_repeats(130, false).expect("flush"),
            0,
            "still open"
        );
        assert_eq!(store.audit_flush_repeats(160, false).expect("flush"), 1);
        // The next refusal opens a new window.
        assert!(
            store
                .audit_append(161, refusal())
                .expect("appends")
                .is_some()
        );
        let counts: Vec<(String, u64)> = store
            .audit_entries()
            .expect("reads")
            .into_iter()
            .map(|entry| entry.expect("readable"))
            .map(|entry| (entry.action, entry.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("stripe.webhook".to_owned(), 1),
                ("auth.login".to_owned(), 1),
                ("stripe.webhook".to_owned(), 49),
                ("stripe.webhook".to_owned(), 1),
            ]
        );
        assert_eq!(store.audit_verify().expect("reads"), Ok(4));
    }

    #[test]
    fn concurrent_appends_keep_the_chain_gap_free() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let store = store.clone();
                scope.spawn(move || {
                    for n in 0..25 {
                        store.audit_append(1, event(t * 100 + n)).expect("appends");
                    }
                });
            }
        });
        assert_eq!(store.audit_verify().expect("reads"), Ok(200));
    }
}
