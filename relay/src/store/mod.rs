//! The one module that names sled. It owns the database under the data directory and exposes
//! typed operations; callers never see sled types. Only sealed (ciphertext) values and
//! metadata are ever stored: there is no API here that takes a plaintext.

mod accounts;
mod api_keys;
mod audit;
mod backup;
mod blobs;
mod blobs_migrate;
mod bucket;
mod documents;
mod durability;
mod guard;
mod members;
mod migrate;
mod payments;
mod records;
mod retention;
mod sends;
mod webhooks;

pub use accounts::{
    MfaState, MfaTicket, OrgRecord, PendingSignup, SessionRecord, SessionRefused, SignupConflict,
    UserRecord,
};
pub use api_keys::ApiKeyRecord;
pub use audit::REPEAT_WINDOW_SECONDS;
pub use backup::{
    BackupReport, CheckReport, Manifest, restore as restore_backup, verify as verify_backup,
};
pub use blobs::{DocumentKeys, LinkKeys};
pub use blobs_migrate::BlobMigration;
pub use documents::{DocumentLimits, DocumentRecord, RequestRecord, StorageRefusal, StoredTarget};
pub use durability::track_writes;
pub use guard::{AccountFailures, IpBlock, IpFailures};
pub use members::{InviteRecord, JoinConflict};
pub use payments::{
    CheckoutRecord, InvoiceRecord, InvoiceSubject, InvoiceUpdate, LedgerEntry, NewEntry,
    StripePayment,
};
pub use records::{SessionGuard, Updated};
pub use sends::{DownloadToken, LinkOtp, Paywall, QuotaExceeded, SendRecord, SendState};
pub use webhooks::{WebhookDelivery, WebhookEndpoint};

use durability::{Durability, Tree};

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

/// The relay's database handle (cheap to clone: sled's `Db` is reference counted).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Numbers every write and makes them durable (see `durability`).
    durability: Arc<Durability>,
    /// Serialises appends to the audit log within this process, and keeps its head (the next
    /// number and the last hash) once read.
    audit_lock: Arc<Mutex<Option<audit::Head>>>,
    /// Open windows of repeated refusals (see `audit`).
    audit_repeats: Arc<Mutex<audit::Repeats>>,
    /// A random secret made at the first start, kept in the database: the key of the fake
    /// prelogin salts for unknown e-mail addresses.
    server_secret: Arc<zeroize::Zeroizing<[u8; 32]>>,
    /// Where bundle folders live (see `blobs`).
    blobs: Arc<std::path::PathBuf>,
    /// The bucket that holds chunk ciphertext, when `[blobs] backend = "s3"`; `None`: chunks
    /// are files in the bundle folders.
    bucket: Option<Arc<bucket::Bucket>>,
    /// Serialises quota checks with the reservations they allow.
    quota_lock: Arc<tokio::sync::Mutex<()>>,
    /// Serialises changes of money (invoice states, ledger, Stripe events) within this
    /// process, so two deliveries of one webhook cannot interleave.
    payments_lock: Arc<tokio::sync::Mutex<()>>,
    /// Bundles being finalized right now (one finalize per bundle at a time).
    finalizing: Arc<Mutex<std::collections::HashSet<shared::ids::Id>>>,
    /// What `/metrics` reports (events, chunk bytes): counted where they happen, here.
    metrics: Arc<crate::metrics::Metrics>,
}

/// The claim of finalizing one bundle; released when dropped.
#[derive(Debug)]
pub struct FinalizeClaim {
    id: shared::ids::Id,
    finalizing: Arc<Mutex<std::collections::HashSet<shared::ids::Id>>>,
}

impl Drop for FinalizeClaim {
    fn drop(&mut self) {
        if let Ok(mut finalizing) = self.finalizing.lock() {
            finalizing.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Schema version of the on-disk layout, checked at open so an old binary refuses a newer store.
/// 2: key material (link verifiers, wrapped keys, manifests, receipt keys) lives in bundle
/// folders, never in sled (`migrate`).
const SCHEMA_VERSION: u32 = 2;
const META_SCHEMA_KEY: &[u8] = b"schema_version";
/// Where the automatic backups taken before a schema upgrade go, inside the data directory.
pub const UPGRADE_BACKUPS: &str = "backups";
const META_SERVER_SECRET: &[u8] = b"server_secret";
/// Where this data directory's chunks are: `files`, `s3://bucket/prefix`, or `migrating:`
/// followed by one of those while `admin blobs migrate` has not finished.
const META_CHUNKS_AT: &[u8] = b"chunks_at";
const FILES: &str = "files";
const MIGRATING: &str = "migrating:";

impl Store {
    /// Opens (or creates) the store in `data_dir`, with chunks as files there.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        Self::open_with(data_dir, &crate::config::BlobsConfig::default())
    }

    /// Opens (or creates) the store in `data_dir`, with chunks where `blobs` says. Refuses a
    /// data directory whose chunks are elsewhere (or half moved): serving it would answer
    /// "gone" for every bundle whose chunks it cannot see.
    pub fn open_with(data_dir: &Path, blobs: &crate::config::BlobsConfig) -> anyhow::Result<Self> {
        let store = Self::open_unchecked(data_dir, blobs)?;
        let wanted = store.chunks_wanted();
        let recorded = store.chunks_at()?;
        match recorded.as_deref() {
            Some(at) if at == wanted => {}
            None => store.record_chunks_at(&wanted)?,
            Some(at) => anyhow::bail!("{}", chunks_elsewhere(at, &wanted)),
        }
        Ok(store)
    }

    /// Where this store's chunks go: `files`, or `s3://bucket/prefix`.
    pub fn chunks_wanted(&self) -> String {
        self.bucket
            .as_ref()
            .map_or_else(|| FILES.to_owned(), |bucket| bucket.name().to_owned())
    }

    /// Where the data directory says its chunks are (`None` before the first start that
    /// recorded it: a relay whose chunks are files, or a new one).
    fn chunks_at(&self) -> anyhow::Result<Option<String>> {
        let meta = self.tree("meta")?;
        let Some(bytes) = meta
            .get(META_CHUNKS_AT)
            .context("while reading chunks_at")?
        else {
            // Every relay before this record kept its chunks as files.
            let has_bundles = !blobs::bundle_folders(&self.blobs)?.is_empty();
            return Ok(has_bundles.then(|| FILES.to_owned()));
        };
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .context("the stored chunks_at is corrupt")
    }

    fn record_chunks_at(&self, at: &str) -> anyhow::Result<()> {
        self.tree("meta")?
            .insert(META_CHUNKS_AT, at.as_bytes())
            .context("while recording where the chunks are")?;
        self.durability.commit_blocking()
    }

    /// Opens the store without checking where its chunks are (`admin blobs migrate`).
    fn open_unchecked(
        data_dir: &Path,
        blobs_config: &crate::config::BlobsConfig,
    ) -> anyhow::Result<Self> {
        let bucket = match blobs_config.backend {
            crate::config::BlobBackend::Files => None,
            crate::config::BlobBackend::S3 => {
                Some(Arc::new(bucket::Bucket::connect(&blobs_config.s3)?))
            }
        };
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("while creating the data directory {}", data_dir.display()))?;
        let db = sled::Config::new()
            .path(data_dir.join("db"))
            .open()
            .with_context(|| format!("while opening the database in {}", data_dir.display()))?;
        let durability = Arc::new(Durability::new(db.clone(), &data_dir.join("db"))?);
        let meta = Tree::new(
            db.open_tree("meta")
                .context("while opening the meta tree")?,
            durability.clone(),
        );
        let found = match meta
            .get(META_SCHEMA_KEY)
            .context("while reading the schema version")?
        {
            None => SCHEMA_VERSION,
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .context("the stored schema version is corrupt")?;
                anyhow::ensure!(
                    found <= SCHEMA_VERSION,
                    "the data directory holds schema version {found}, newer than this relay's {SCHEMA_VERSION}: a newer release has opened it. Run that release (or a newer one); to go back to this one, restore the backup the upgrade left in {} into an empty folder (`admin restore`)",
                    data_dir.join(UPGRADE_BACKUPS).display()
                );
                found
            }
        };
        let server_secret = match meta
            .get(META_SERVER_SECRET)
            .context("while reading the server secret")?
        {
            Some(bytes) => {
                <[u8; 32]>::try_from(bytes.as_ref()).context("the server secret is corrupt")?
            }
            None => {
                let mut secret = [0_u8; 32];
                rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut secret);
                meta.insert(META_SERVER_SECRET, &secret)
                    .context("while writing the server secret")?;
                secret
            }
        };
        let blobs = data_dir.join("blobs");
        std::fs::create_dir_all(&blobs)
            .with_context(|| format!("while creating {}", blobs.display()))?;
        // A backup's snapshot left by a crash holds hard links to what may since be deleted:
        // no backup runs while the store is being opened, so every one is stale.
        backup::remove_stale_snapshots(data_dir)?;
        durability::sync_folder(data_dir)?;
        let store = Self {
            db,
            durability,
            audit_lock: Arc::new(Mutex::new(None)),
            audit_repeats: Arc::new(Mutex::new(audit::Repeats::default())),
            server_secret: Arc::new(zeroize::Zeroizing::new(server_secret)),
            blobs: Arc::new(blobs),
            bucket,
            quota_lock: Arc::new(tokio::sync::Mutex::new(())),
            payments_lock: Arc::new(tokio::sync::Mutex::new(())),
            finalizing: Arc::new(Mutex::new(std::collections::HashSet::new())),
            metrics: Arc::new(crate::metrics::Metrics::new()),
        };
        if found < SCHEMA_VERSION {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| {
                    i64::try_from(since.as_secs()).unwrap_or_default()
                });
            let folder = data_dir.join(UPGRADE_BACKUPS);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("while creating {}", folder.display()))?;
            let path = folder.join(format!("schema-{found}-before-{SCHEMA_VERSION}-{now}.tar"));
            let report = store.backup_blocking(&path, now).with_context(|| {
                format!(
                    "while backing up the data directory before moving it from schema {found} to {SCHEMA_VERSION} (nothing was changed)"
                )
            })?;
            tracing::warn!(
                backup = %report.path.display(),
                from = found,
                to = SCHEMA_VERSION,
                "moving the data directory to a newer schema; a backup of it as it was is kept: restore it with `admin restore` into an empty folder to go back, and delete it once the upgrade works (it holds what has since been deleted)"
            );
        }
        if found < 2 {
            store
                .move_keys_into_bundle_folders()
                .context("while moving key material out of the database (schema 2)")?;
        }
        meta.insert(META_SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
            .context("while writing the schema version")?;
        store.durability.commit_blocking()?;
        Ok(store)
    }

    /// Claims bundle `id` for a finalize, so that two finalizes of one bundle cannot write its
    /// key material over each other; `None` while another one runs.
    pub fn claim_finalize(&self, id: shared::ids::Id) -> Option<FinalizeClaim> {
        let mut finalizing = self.finalizing.lock().ok()?;
        finalizing.insert(id).then(|| FinalizeClaim {
            id,
            finalizing: self.finalizing.clone(),
        })
    }

    /// The relay's own secret (see the field); never leaves the relay.
    pub fn server_secret(&self) -> &[u8; 32] {
        &self.server_secret
    }

    /// Held while money changes (see the field).
    pub async fn lock_payments(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.payments_lock.lock().await
    }

    /// The schema version the database records (this relay's, once it has opened it).
    pub(crate) fn stored_schema(&self) -> anyhow::Result<u32> {
        match self
            .tree("meta")?
            .get(META_SCHEMA_KEY)
            .context("while reading the schema version")?
        {
            None => Ok(SCHEMA_VERSION),
            Some(bytes) => <[u8; 4]>::try_from(bytes.as_ref())
                .map(u32::from_be_bytes)
                .context("the stored schema version is corrupt"),
        }
    }

    /// A cheap liveness check of the database.
    pub fn check(&self) -> anyhow::Result<()> {
        self.tree("meta")?
            .get(META_SCHEMA_KEY)
            .context("while checking the database")?;
        Ok(())
    }

    /// Makes every change made so far durable (see `durability`).
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.commit().await
    }

    /// Returns once every write made so far is on disk; concurrent callers share one flush.
    pub async fn commit(&self) -> anyhow::Result<()> {
        self.durability
            .commit_through(self.durability.written())
            .await
    }

    /// Returns once writes up to number `last` (see `track_writes`) are on disk.
    pub async fn commit_through(&self, last: u64) -> anyhow::Result<()> {
        self.durability.commit_through(last).await
    }

    /// How many flushes ran since the store was opened (each covers every write made before
    /// it, so under load one flush serves many requests).
    pub fn flushes(&self) -> u64 {
        self.durability.flushes()
    }

    /// `commit` for callers that are not async (operator commands, sweeps on a blocking
    /// thread).
    pub fn commit_blocking(&self) -> anyhow::Result<()> {
        self.durability.commit_blocking()
    }

    /// Makes every later flush fail as a full disk would, or lets them work again (tests of
    /// the durability contract).
    #[cfg(feature = "fault-injection")]
    pub fn fail_flushes(&self, fail: bool) {
        self.durability
            .fail_flushes
            .store(fail, std::sync::atomic::Ordering::Release);
    }

    /// Free space left to this process on the data directory's filesystem, in bytes.
    /// Why `data_dir` cannot hold a store, if it cannot: it is not a folder, or it (or, while
    /// it does not exist yet, the folder it would be made in) cannot be written.
    pub fn data_dir_problem(data_dir: &Path) -> Option<String> {
        use nix::unistd::{AccessFlags, access};
        let writable = |path: &Path| access(path, AccessFlags::W_OK | AccessFlags::X_OK).is_ok();
        if data_dir.exists() {
            if !data_dir.is_dir() {
                return Some(format!("data_dir {} is not a folder", data_dir.display()));
            }
            if !writable(data_dir) {
                return Some(format!(
                    "data_dir {} is not writable by this user",
                    data_dir.display()
                ));
            }
            return None;
        }
        let parent = data_dir
            .ancestors()
            .skip(1)
            .find(|ancestor| ancestor.exists())
            .unwrap_or(Path::new("."));
        (!writable(parent)).then(|| {
            format!(
                "data_dir {} does not exist and cannot be made in {}",
                data_dir.display(),
                parent.display()
            )
        })
    }

    /// This relay's metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The database's size on disk, in bytes.
    pub fn database_bytes(&self) -> anyhow::Result<u64> {
        self.db
            .size_on_disk()
            .context("while measuring the database")
    }

    /// Whether the data directory takes a durable write now: a small file written, synced and
    /// removed in it, and the database flushed (for the readiness check).
    pub async fn probe_writable(&self) -> anyhow::Result<()> {
        let probe = self.blobs.with_file_name(".ready-probe");
        let written = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&probe)
                .with_context(|| format!("while creating {}", probe.display()))?;
            file.write_all(b"ready\n")
                .and_then(|()| file.sync_all())
                .with_context(|| format!("while writing {}", probe.display()))?;
            std::fs::remove_file(&probe)
                .with_context(|| format!("while removing {}", probe.display()))
        })
        .await
        .context("the probe task failed")?;
        written?;
        self.db
            .flush_async()
            .await
            .context("while flushing the database")?;
        Ok(())
    }

    pub fn free_bytes(&self) -> anyhow::Result<u64> {
        let stats = nix::sys::statvfs::statvfs(self.blobs.as_path())
            .context("while reading the data directory's free space")?;
        Ok(stats
            .blocks_available()
            .saturating_mul(stats.fragment_size()))
    }

    /// A tree whose writes count for the durability contract.
    fn tree(&self, name: &str) -> anyhow::Result<Tree> {
        let tree = self
            .db
            .open_tree(name)
            .with_context(|| format!("while opening the {name} tree"))?;
        Ok(Tree::new(tree, self.durability.clone()))
    }

    /// Reports a write made through `Tree::raw` (a multi-tree transaction).
    fn wrote(&self) {
        self.durability.wrote();
    }
}

/// Why a data directory whose chunks are `at` cannot serve with chunks `wanted`, and what to do.
fn chunks_elsewhere(at: &str, wanted: &str) -> String {
    let target = |place: &str| {
        if place == FILES {
            "--to files".to_owned()
        } else {
            format!("--to s3 (with [blobs.s3] naming {place})")
        }
    };
    match at.strip_prefix(MIGRATING) {
        Some(to) => format!(
            "a move of this data directory's chunks to {to} did not finish: run \
             `sealpost-relay admin blobs migrate {}` again to finish it (it resumes), then start \
             with the configuration that names {to}",
            target(to)
        ),
        None => format!(
            "this data directory's chunks are in {at}, but the configuration puts them in \
             {wanted}: set [blobs] back to {at}, or stop here and move them first with \
             `sealpost-relay admin blobs migrate {}`",
            target(wanted)
        ),
    }
}

/// Whether `error` comes from the bucket of the chunks (unreachable, refusing, failing): the
/// edge answers 503 with a `Retry-After`, as for a storage that is away for a moment.
pub fn is_bucket_error(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<object_store::Error>().is_some())
}

/// Whether `error` comes from a full disk (or a quota or file-size limit): such a write could
/// not be made durable, and the edge answers 507.
pub fn is_disk_full(error: &anyhow::Error) -> bool {
    fn full(io: &std::io::Error) -> bool {
        use nix::libc::{EDQUOT, EFBIG, ENOSPC};
        matches!(io.raw_os_error(), Some(code) if code == ENOSPC || code == EDQUOT || code == EFBIG)
    }
    error.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return full(io);
        }
        matches!(cause.downcast_ref::<sled::Error>(), Some(sled::Error::Io(io)) if full(io))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_keeps_the_schema_and_refuses_a_newer_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(Store::open(dir.path()).expect("first open"));
        // sled lets go of its file lock once its background flusher has too: retry a moment.
        let mut attempts = 0;
        while let Err(error) = Store::open(dir.path()) {
            attempts += 1;
            assert!(attempts < 100, "reopen: {error:#}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        {
            let db = sled::open(dir.path().join("db")).expect("raw open");
            db.open_tree("meta")
                .expect("meta")
                .insert(META_SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
                .expect("write");
            db.flush().expect("flush");
        }
        let error = Store::open(dir.path()).expect_err("newer schema is refused");
        assert!(format!("{error:#}").contains("newer than this relay"));
    }
}
