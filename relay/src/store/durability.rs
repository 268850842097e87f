//! The engine of the durability contract (ARCHITECTURE.md, "Durability"): a 2xx means the
//! change is on disk. Every write the store makes goes through `Tree`, which numbers it;
//! `commit_through(n)` returns once writes 1..=n are durable: sled's log flushed and its file
//! `fdatasync`ed (sled itself only asks the kernel to write the range, which survives a killed
//! process but not a power cut). Concurrent commits share one flush (group commit): whoever
//! holds the flush turn flushes everything written so far, and every waiter whose writes that
//! covered returns without flushing again. The HTTP edge (`crate::commit`) learns which writes
//! a request made through a task-local counter (`track_writes`), so a read that wrote nothing
//! never waits for a flush.
//!
//! It does not decide what to write, nor retry: a failed flush is reported to every waiter it
//! covered (the edge answers 507 or 503).

use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

tokio::task_local! {
    /// The number of the last write made by the request running in this task.
    static LAST_WRITE: Cell<u64>;
}

/// The snapshot gate: every change the store makes (a record written, a multi-tree
/// transaction, a bundle file written or deleted) passes it as a reader, for just that change;
/// a backup holds it as the writer while it copies the database and hard-links the bundle
/// files, so what it copies is one moment of the data directory. One per process (a relay is
/// one store per process); changes never nest, so a waiting backup cannot deadlock them.
static SNAPSHOT_GATE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Passage through the snapshot gate for one change.
pub(crate) fn admit() -> std::sync::RwLockReadGuard<'static, ()> {
    SNAPSHOT_GATE
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one change (a transaction) inside the snapshot gate.
pub(crate) fn gated<T>(change: impl FnOnce() -> T) -> T {
    let _gate = admit();
    change()
}

/// Holds every change back (for a backup's copy), until the guard is dropped.
pub(crate) fn hold_changes() -> std::sync::RwLockWriteGuard<'static, ()> {
    SNAPSHOT_GATE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `work` and reports the number of the last write it made (0: none).
pub async fn track_writes<F: Future>(work: F) -> (F::Output, u64) {
    LAST_WRITE
        .scope(Cell::new(0), async {
            let output = work.await;
            let last = LAST_WRITE.with(Cell::get);
            (output, last)
        })
        .await
}

/// Numbers writes and makes them durable.
pub(crate) struct Durability {
    written: AtomicU64,
    flushed: AtomicU64,
    /// How many flushes ran (each may cover many writes).
    flushes: AtomicU64,
    /// The flush turn: one flush at a time; waiters queue fairly behind it.
    turn: tokio::sync::Mutex<()>,
    db: sled::Db,
    /// sled's log file, opened only to `fdatasync` it.
    log_file: std::fs::File,
    /// Where sled writes values too large for its log, one file each (without syncing them).
    sled_blobs: std::path::PathBuf,
    /// Those files already synced.
    synced_blobs: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
    /// Tests make flushes fail as a full disk would.
    #[cfg(feature = "fault-injection")]
    pub(crate) fail_flushes: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durability")
            .field("written", &self.written.load(Ordering::Relaxed))
            .field("flushed", &self.flushed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Durability {
    pub(crate) fn new(db: sled::Db, db_folder: &Path) -> anyhow::Result<Self> {
        let log_path = db_folder.join("db");
        let log_file = std::fs::File::open(&log_path)
            .with_context(|| format!("while opening {} to sync it", log_path.display()))?;
        // The folder's entries (the log, sled's config) must survive a power cut too.
        sync_folder(db_folder)?;
        Ok(Self {
            written: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            db,
            log_file,
            sled_blobs: db_folder.join("blobs"),
            synced_blobs: std::sync::Mutex::new(std::collections::HashSet::new()),
            #[cfg(feature = "fault-injection")]
            fail_flushes: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Records that a write was made (call after sled accepted it).
    pub(crate) fn wrote(&self) {
        let number = self.written.fetch_add(1, Ordering::AcqRel) + 1;
        let _ = LAST_WRITE.try_with(|last| last.set(number));
    }

    /// The number of the last write made by anyone.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Returns once writes `1..=number` are on disk.
    pub(crate) async fn commit_through(self: &Arc<Self>, number: u64) -> anyhow::Result<()> {
        if self.flushed.load(Ordering::Acquire) >= number {
            return Ok(());
        }
        let _turn = self.turn.lock().await;
        if self.flushed.load(Ordering::Acquire) >= number {
            return Ok(());
        }
        // Everything written before this line is covered by the flush below.
        let target = self.written.load(Ordering::Acquire);
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.flush_now())
            .await
            .context("the flush task panicked")??;
        self.flushed.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Flushes everything written so far, on this thread (for sync callers and shutdown).
    pub(crate) fn commit_blocking(&self) -> anyhow::Result<()> {
        let target = self.written.load(Ordering::Acquire);
        self.flush_now()?;
        self.flushed.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// How many flushes ran since the store was opened.
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Acquire)
    }

    fn flush_now(&self) -> anyhow::Result<()> {
        self.flushes.fetch_add(1, Ordering::AcqRel);
        #[cfg(feature = "fault-injection")]
        if self.fail_flushes.load(Ordering::Acquire) {
            return Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC))
                .context("while flushing the database (injected)");
        }
        self.db.flush().context("while flushing the database")?;
        self.log_file
            .sync_data()
            .context("while syncing the database log")?;
        self.sync_sled_blobs()
    }

    /// Syncs the value files sled wrote since the last flush (records are kept small, so there
    /// are rarely any; sled itself never syncs them).
    fn sync_sled_blobs(&self) -> anyhow::Result<()> {
        let entries = match std::fs::read_dir(&self.sled_blobs) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error).context("while listing sled's value files"),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .map_err(|_| anyhow::anyhow!("the synced-files lock is poisoned"))?;
        let mut present = std::collections::HashSet::new();
        let mut new = false;
        for entry in entries {
            let entry = entry.context("while listing sled's value files")?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                match std::fs::File::open(entry.path()).and_then(|file| file.sync_all()) {
                    Ok(()) => new = true,
                    // sled may remove a value file at any time; a vanished file needs no sync.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(error).context("while syncing a sled value file"),
                }
            }
            present.insert(name);
        }
        *synced = present;
        if new {
            sync_folder(&self.sled_blobs)?;
        }
        Ok(())
    }
}

/// A sled tree whose writes are numbered for the durability contract. Reads pass through.
#[derive(Clone)]
pub(crate) struct Tree {
    inner: sled::Tree,
    durability: Arc<Durability>,
}

impl Tree {
    pub(crate) fn new(inner: sled::Tree, durability: Arc<Durability>) -> Self {
        Self { inner, durability }
    }

    pub(crate) fn get<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<sled::IVec>> {
        self.inner.get(key)
    }

    pub(crate) fn contains_key<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<bool> {
        self.inner.contains_key(key)
    }

    pub(crate) fn iter(&self) -> sled::Iter {
        self.inner.iter()
    }

    pub(crate) fn scan_prefix<P: AsRef<[u8]>>(&self, prefix: P) -> sled::Iter {
        self.inner.scan_prefix(prefix)
    }

    pub(crate) fn last(&self) -> sled::Result<Option<(sled::IVec, sled::IVec)>> {
        self.inner.last()
    }

    pub(crate) fn insert<K: AsRef<[u8]>, V: Into<sled::IVec>>(
        &self,
        key: K,
        value: V,
    ) -> sled::Result<Option<sled::IVec>> {
        let old = gated(|| self.inner.insert(key, value))?;
        self.durability.wrote();
        Ok(old)
    }

    pub(crate) fn remove<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<sled::IVec>> {
        let old = gated(|| self.inner.remove(key))?;
        if old.is_some() {
            self.durability.wrote();
        }
        Ok(old)
    }

    pub(crate) fn compare_and_swap<K, OV, NV>(
        &self,
        key: K,
        old: Option<OV>,
        new: Option<NV>,
    ) -> sled::Result<Result<(), sled::CompareAndSwapError>>
    where
        K: AsRef<[u8]>,
        OV: AsRef<[u8]>,
        NV: Into<sled::IVec>,
    {
        let result = gated(|| self.inner.compare_and_swap(key, old, new))?;
        if result.is_ok() {
            self.durability.wrote();
        }
        Ok(result)
    }

    /// The sled tree, for a multi-tree transaction; the caller reports its writes with
    /// `Store::wrote` once the transaction committed.
    pub(crate) fn raw(&self) -> &sled::Tree {
        &self.inner
    }
}

/// `fsync` of a folder, so that the entries created, renamed or removed in it are durable.
pub(crate) fn sync_folder(folder: &Path) -> anyhow::Result<()> {
    std::fs::File::open(folder)
        .and_then(|handle| handle.sync_all())
        .with_context(|| format!("while syncing the folder {}", folder.display()))
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_flushes_and_each_covers_its_own_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let before = store.durability.flushes();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..200_u32 {
            let store = store.clone();
            tasks.spawn(async move {
                let ((), last) = super::track_writes(async {
                    store
                        .tree("test")
                        .expect("tree")
                        .insert(n.to_be_bytes(), &[1_u8])
                        .expect("insert");
                })
                .await;
                assert!(last > 0, "the write was numbered");
                store.commit_through(last).await.expect("commit");
                assert!(
                    store
                        .durability
                        .flushed
                        .load(std::sync::atomic::Ordering::Acquire)
                        >= last
                );
            });
        }
        while let Some(task) = tasks.join_next().await {
            task.expect("no panic");
        }
        let flushes = store.durability.flushes() - before;
        assert!(
            (1..200).contains(&flushes),
            "200 commits ran {flushes} flushes"
        );
        // Nothing new written: a commit costs no flush.
        store.commit().await.expect("commit");
        assert_eq!(store.durability.flushes() - before, flushes);
    }

    #[tokio::test]
    async fn a_read_makes_no_write_to_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let (_, last) = super::track_writes(async {
            store
                .tree("test")
                .expect("tree")
                .get(b"absent")
                .expect("get")
        })
        .await;
        assert_eq!(last, 0);
    }
}
