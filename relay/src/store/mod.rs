//! The one module that names sled. It owns the database under the data directory and exposes
//! typed operations; callers never see sled types. Only sealed (ciphertext) values and
//! metadata are ever stored: there is no API here that takes a plaintext.

mod accounts;
mod audit;
mod blobs;
mod documents;
mod guard;
mod members;
mod payments;
mod retention;
mod sends;

pub use accounts::{MfaState, MfaTicket, OrgRecord, SessionRecord, SignupConflict, UserRecord};
pub use documents::{DocumentRecord, RequestRecord, StoredTarget};
pub use guard::{AccountFailures, IpBlock, IpFailures};
pub use members::{InviteRecord, JoinConflict};
pub use payments::{
    CheckoutRecord, InvoiceRecord, InvoiceSubject, InvoiceUpdate, LedgerEntry, NewEntry,
    StripePayment,
};
pub use sends::{DownloadToken, Paywall, SendRecord, SendState};

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

/// The relay's database handle (cheap to clone: sled's `Db` is reference counted).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Serialises appends to the audit log (read head, write next) within this process.
    audit_lock: Arc<Mutex<()>>,
    /// A random secret made at the first start, kept in the database: the key of the fake
    /// prelogin salts for unknown e-mail addresses.
    server_secret: Arc<zeroize::Zeroizing<[u8; 32]>>,
    /// Where chunk ciphertext lives as files (see `blobs`).
    blobs: Arc<std::path::PathBuf>,
    /// Serialises quota checks with the reservations they allow.
    quota_lock: Arc<tokio::sync::Mutex<()>>,
    /// Serialises changes of money (invoice states, ledger, Stripe events) within this
    /// process, so two deliveries of one webhook cannot interleave.
    payments_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Schema version of the on-disk layout, checked at open so an old binary refuses a newer store.
const SCHEMA_VERSION: u32 = 1;
const META_SCHEMA_KEY: &[u8] = b"schema_version";
const META_SERVER_SECRET: &[u8] = b"server_secret";

impl Store {
    /// Opens (or creates) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("while creating the data directory {}", data_dir.display()))?;
        let db = sled::Config::new()
            .path(data_dir.join("db"))
            .open()
            .with_context(|| format!("while opening the database in {}", data_dir.display()))?;
        let meta = db
            .open_tree("meta")
            .context("while opening the meta tree")?;
        match meta
            .get(META_SCHEMA_KEY)
            .context("while reading the schema version")?
        {
            None => {
                meta.insert(META_SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .context("while writing the schema version")?;
            }
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .context("the stored schema version is corrupt")?;
                anyhow::ensure!(
                    found <= SCHEMA_VERSION,
                    "the data directory holds schema version {found}, newer than this relay's {SCHEMA_VERSION}"
                );
            }
        }
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
        Ok(Self {
            db,
            audit_lock: Arc::new(Mutex::new(())),
            server_secret: Arc::new(zeroize::Zeroizing::new(server_secret)),
            blobs: Arc::new(blobs),
            quota_lock: Arc::new(tokio::sync::Mutex::new(())),
            payments_lock: Arc::new(tokio::sync::Mutex::new(())),
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

    /// A cheap liveness check of the database.
    pub fn check(&self) -> anyhow::Result<()> {
        self.db
            .open_tree("meta")
            .and_then(|meta| meta.get(META_SCHEMA_KEY))
            .context("while checking the database")?;
        Ok(())
    }

    /// Writes every buffered change to disk.
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.db
            .flush_async()
            .await
            .context("while flushing the database")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_keeps_the_schema_and_refuses_a_newer_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(Store::open(dir.path()).expect("first open"));
        drop(Store::open(dir.path()).expect("reopen"));
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
