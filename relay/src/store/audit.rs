//! Persistence of the audit log: entries in the `audit` tree under their big-endian sequence
//! number, appended under a lock so that sequence and chain stay gap-free, never rewritten.

use anyhow::Context as _;
use shared::ids::Id;

use super::Store;
use crate::audit::{AuditEntry, AuditEvent, ChainError, verify_chain};

const TREE: &str = "audit";

impl Store {
    /// Appends an event at time `now` and returns the stored entry.
    pub fn audit_append(&self, now: i64, event: AuditEvent) -> anyhow::Result<AuditEntry> {
        let tree = self
            .db
            .open_tree(TREE)
            .context("while opening the audit log")?;
        let _guard = self
            .audit_lock
            .lock()
            .map_err(|_| anyhow::anyhow!("the audit log lock is poisoned"))?;
        let (seq, prev) = match tree.last().context("while reading the audit log's head")? {
            Some((_, value)) => {
                let last: AuditEntry =
                    serde_json::from_slice(&value).context("the audit log's head is corrupt")?;
                (last.seq + 1, last.hash)
            }
            None => (0, [0; 32]),
        };
        let entry = AuditEntry::new(seq, now, prev, event);
        let value = serde_json::to_vec(&entry).context("while encoding an audit entry")?;
        tree.insert(seq.to_be_bytes(), value)
            .context("while appending to the audit log")?;
        Ok(entry)
    }

    /// Every entry in order; unreadable ones as errors (for verification to report).
    pub fn audit_entries(&self) -> anyhow::Result<Vec<Result<AuditEntry, String>>> {
        let tree = self
            .db
            .open_tree(TREE)
            .context("while opening the audit log")?;
        Ok(tree
            .iter()
            .map(|item| {
                let (_, value) = item.map_err(|error| error.to_string())?;
                serde_json::from_slice::<AuditEntry>(&value).map_err(|error| error.to_string())
            })
            .collect())
    }

    /// The entries of one organisation, newest first, at most `limit`.
    pub fn audit_entries_of_org(&self, org: Id, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let tree = self
            .db
            .open_tree(TREE)
            .context("while opening the audit log")?;
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

    /// Walks the whole chain; `Ok(count)` when intact, else the first broken entry.
    pub fn audit_verify(&self) -> anyhow::Result<Result<u64, ChainError>> {
        Ok(verify_chain(self.audit_entries()?))
    }

    #[cfg(test)]
    pub(crate) fn audit_overwrite_for_test(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        let tree = self.db.open_tree(TREE)?;
        tree.insert(entry.seq.to_be_bytes(), serde_json::to_vec(entry)?)?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn audit_remove_for_test(&self, seq: u64) -> anyhow::Result<()> {
        self.db.open_tree(TREE)?.remove(seq.to_be_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::audit::{Actor, AuditEvent, ChainError, Outcome};
    use crate::store::Store;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            actor: Actor::Anonymous {
                ip: Some(format!("192.0.2.{n}")),
            },
            org: None,
            action: "auth.login",
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
                    .expect("appends");
                assert_eq!(entry.seq, n as u64);
            }
        }
        let store = Store::open(dir.path()).expect("reopens");
        assert_eq!(store.audit_verify().expect("reads"), Ok(4));
        let next = store
            .audit_append(200, event(9))
            .expect("appends after reopening");
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
