//! The one way to change a stored record (ARCHITECTURE.md, "One way to change a record"): a
//! read-modify-write is a closure applied to the freshly read record and written back in one
//! atomic step, re-run whenever another writer got there first. A decision made on a copy
//! loaded before an `.await` therefore never overwrites what happened meanwhile: the closure
//! sees the record as it is now and may refuse. With a `SessionGuard`, the change also commits
//! only while the log-in session that asked for it is still alive (it exists, and its user's
//! session epoch has not moved on), so "log out everywhere", a removal, a demotion or a
//! password change that ended the session wins over a request it authorised earlier.
//! Closures may run more than once: they must only compute.

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::ids::Id;
use sled::Transactional as _;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};

use super::Store;

pub(super) const SESSIONS: &str = "sessions";
pub(super) const USERS: &str = "users";

/// The session a change is made in: it must still be alive when the change commits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionGuard {
    /// SHA-256 of the session token.
    pub token_hash: [u8; 32],
    /// The user logged in.
    pub user: Id,
    /// The user's session epoch the session belongs to.
    pub epoch: u64,
}

impl std::fmt::Debug for SessionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGuard")
            .field("user", &self.user)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// What an update found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated<T, R> {
    /// The closure ran on the current record, and what it changed was written.
    Done { outcome: T, record: R },
    /// There is no such record.
    Missing,
    /// The session the change was made in has ended (nothing was written).
    SessionEnded,
}

impl<T, R> Updated<T, R> {
    /// The outcome and record, or `None` when nothing was there (or the session ended).
    pub fn done(self) -> Option<(T, R)> {
        match self {
            Updated::Done { outcome, record } => Some((outcome, record)),
            Updated::Missing | Updated::SessionEnded => None,
        }
    }
}

/// Why a transaction stopped without writing.
pub(super) enum Abort {
    Corrupt(anyhow::Error),
    Missing,
    SessionEnded,
}

pub(super) fn abort<T>(reason: Abort) -> ConflictableTransactionResult<T, Abort> {
    Err(ConflictableTransactionError::Abort(reason))
}

pub(super) fn decode_in<R: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> ConflictableTransactionResult<R, Abort> {
    serde_json::from_slice(bytes)
        .with_context(|| format!("a stored {what} is corrupt"))
        .or_else(|error| abort(Abort::Corrupt(error)))
}

pub(super) fn encode_in<R: Serialize>(record: &R) -> ConflictableTransactionResult<Vec<u8>, Abort> {
    serde_json::to_vec(record)
        .context("while encoding a record")
        .or_else(|error| abort(Abort::Corrupt(error)))
}

/// Inside a transaction: refuses unless the guarded session is alive.
pub(super) fn check_guard(
    guard: Option<&SessionGuard>,
    sessions: &TransactionalTree,
    users: &TransactionalTree,
) -> ConflictableTransactionResult<(), Abort> {
    let Some(guard) = guard else {
        return Ok(());
    };
    if sessions.get(guard.token_hash)?.is_none() {
        return abort(Abort::SessionEnded);
    }
    let Some(user) = users.get(guard.user.as_bytes())? else {
        return abort(Abort::SessionEnded);
    };
    let user: super::UserRecord = decode_in(&user, "user")?;
    if user.session_epoch != guard.epoch {
        return abort(Abort::SessionEnded);
    }
    Ok(())
}

/// Inside a transaction: applies `change` to the record under `key`; whether it changed.
fn apply<R, T>(
    records: &TransactionalTree,
    key: &[u8],
    what: &str,
    change: &impl Fn(&mut R) -> T,
) -> ConflictableTransactionResult<(T, R, bool), Abort>
where
    R: Serialize + DeserializeOwned,
{
    let Some(old) = records.get(key)? else {
        return abort(Abort::Missing);
    };
    let mut record: R = decode_in(&old, what)?;
    let outcome = change(&mut record);
    let new = encode_in(&record)?;
    let changed = new.as_slice() != old.as_ref();
    if changed {
        records.insert(key, new)?;
    }
    Ok((outcome, record, changed))
}

/// The end of a transaction as an `Updated`, reporting the write.
pub(super) fn finish<T, R>(
    store: &Store,
    result: Result<(T, R, bool), TransactionError<Abort>>,
    what: &str,
) -> anyhow::Result<Updated<T, R>> {
    match result {
        Ok((outcome, record, changed)) => {
            if changed {
                store.wrote();
            }
            Ok(Updated::Done { outcome, record })
        }
        Err(TransactionError::Abort(Abort::Missing)) => Ok(Updated::Missing),
        Err(TransactionError::Abort(Abort::SessionEnded)) => Ok(Updated::SessionEnded),
        Err(TransactionError::Abort(Abort::Corrupt(error))) => Err(error),
        Err(TransactionError::Storage(error)) => {
            Err(error).with_context(|| format!("while updating a {what}"))
        }
    }
}

impl Store {
    /// Applies `change` to the record under `key` in `tree` atomically; with `guard`, only
    /// while that session is alive. `what` names the record in errors.
    pub(super) fn update_record<R, T>(
        &self,
        tree: &str,
        key: &[u8],
        guard: Option<&SessionGuard>,
        what: &str,
        change: impl Fn(&mut R) -> T,
    ) -> anyhow::Result<Updated<T, R>>
    where
        R: Serialize + DeserializeOwned,
    {
        let sessions = self.tree(SESSIONS)?;
        let users = self.tree(USERS)?;
        let records = self.tree(tree)?;
        let result = super::durability::gated(|| {
            if tree == USERS {
                (sessions.raw(), users.raw()).transaction(|(sessions, users)| {
                    check_guard(guard, sessions, users)?;
                    apply(users, key, what, &change)
                })
            } else {
                (sessions.raw(), users.raw(), records.raw()).transaction(
                    |(sessions, users, records)| {
                        check_guard(guard, sessions, users)?;
                        apply(records, key, what, &change)
                    },
                )
            }
        });
        finish(self, result, what)
    }
}

impl Store {
    /// Applies `change` to the record under `key` in `tree`, starting from `R::default()` when
    /// there is none, in a compare-and-swap loop; a record that `is_empty` afterwards is
    /// removed. Returns what `change` returned and the record as written.
    pub(super) fn upsert_record<R, T>(
        &self,
        tree: &str,
        key: &[u8],
        what: &str,
        change: impl Fn(&mut R) -> T,
        is_empty: impl Fn(&R) -> bool,
    ) -> anyhow::Result<(T, R)>
    where
        R: Serialize + DeserializeOwned + Default,
    {
        let records = self.tree(tree)?;
        loop {
            let old = records.get(key)?;
            let mut record: R = match &old {
                Some(bytes) => serde_json::from_slice(bytes)
                    .with_context(|| format!("a stored {what} is corrupt"))?,
                None => R::default(),
            };
            let outcome = change(&mut record);
            let new = if is_empty(&record) {
                None
            } else {
                Some(serde_json::to_vec(&record).context("while encoding a record")?)
            };
            if new.as_deref() == old.as_deref() {
                return Ok((outcome, record));
            }
            if records.compare_and_swap(key, old, new)?.is_ok() {
                return Ok((outcome, record));
            }
        }
    }
}

impl Store {
    /// Removes the record under `key` in `tree` if `doomed` holds for it as it is now
    /// (compare-and-swap: a change that lands meanwhile is looked at again); whether it was
    /// removed.
    pub(super) fn delete_record_if<R>(
        &self,
        tree: &str,
        key: &[u8],
        what: &str,
        doomed: impl Fn(&R) -> bool,
    ) -> anyhow::Result<bool>
    where
        R: DeserializeOwned,
    {
        let records = self.tree(tree)?;
        loop {
            let Some(old) = records.get(key)? else {
                return Ok(false);
            };
            let record: R = serde_json::from_slice(&old)
                .with_context(|| format!("a stored {what} is corrupt"))?;
            if !doomed(&record) {
                return Ok(false);
            }
            if records
                .compare_and_swap(key, Some(old), None::<Vec<u8>>)?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }
}

/// How many of something one key was granted on one UTC day (`take_daily`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct DayCount {
    day: i64,
    count: u32,
}

impl Store {
    /// Grants one of `key`'s `per_day` in `tree` for the UTC day of `now`: a compare-and-swap on
    /// disk, so parallel requests and restarts cannot exceed it; false (nothing counted) when
    /// none is left.
    pub(super) fn take_daily(
        &self,
        tree: &str,
        key: &[u8],
        what: &str,
        now: i64,
        per_day: u32,
    ) -> anyhow::Result<bool> {
        let day = now.div_euclid(86_400);
        let (taken, _) = self.upsert_record(
            tree,
            key,
            what,
            |record: &mut DayCount| {
                if record.day != day {
                    *record = DayCount { day, count: 0 };
                }
                if record.count >= per_day {
                    return false;
                }
                record.count += 1;
                true
            },
            |_| false,
        )?;
        Ok(taken)
    }

    /// Forgets the counts of `tree` from days before `now`'s.
    pub(super) fn forget_past_days(&self, tree: &str, what: &str, now: i64) -> anyhow::Result<()> {
        let today = now.div_euclid(86_400);
        for item in self.tree(tree)?.iter() {
            let (key, _) = item?;
            self.delete_record_if(tree, &key, what, |count: &DayCount| count.day < today)?;
        }
        Ok(())
    }
}
