//! Organisation API keys in sled: each key's record under its id, and its secret's SHA-256
//! pointing at that id. Only the hash of a secret is ever stored. Revoking a key stamps its
//! record and removes the hash in one transaction, so the secret finds nothing from then on;
//! the record stays, so the audit log can still name the key.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::ids::Id;
use shared::wire::ApiScope;
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{SessionGuard, Store, Updated};

const API_KEYS: &str = "api_keys";
const API_KEY_HASHES: &str = "api_key_hashes";
/// `last_used_at` is written at most this often, so using a key does not turn reads into writes.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: Id,
    pub org: Id,
    pub name: String,
    /// `sp_` and the secret's next 8 characters: safe to show, too short to use.
    pub prefix: String,
    pub scopes: Vec<ApiScope>,
    pub created_by: Id,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// SHA-256 of the secret's 32 bytes (what the secret is looked up by).
    pub hash: [u8; 32],
}

impl ApiKeyRecord {
    /// Whether the key still works at `now`: not revoked, not expired.
    pub fn live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

impl Store {
    /// Stores a new key and the hash that finds it, together.
    pub fn create_api_key(&self, key: &ApiKeyRecord) -> anyhow::Result<()> {
        let (keys, hashes) = (self.tree(API_KEYS)?, self.tree(API_KEY_HASHES)?);
        let bytes = serde_json::to_vec(key)?;
        let result: Result<(), TransactionError<()>> = super::durability::gated(|| {
            (keys.raw(), hashes.raw()).transaction(|(keys, hashes)| {
                keys.insert(key.id.as_bytes().as_slice(), bytes.as_slice())?;
                hashes.insert(key.hash.as_slice(), key.id.as_bytes().as_slice())?;
                Ok(())
            })
        });
        result.map_err(|error| anyhow::anyhow!("{error:?}").context("while storing an API key"))?;
        self.wrote();
        Ok(())
    }

    pub fn api_key(&self, id: Id) -> anyhow::Result<Option<ApiKeyRecord>> {
        let tree = self.tree(API_KEYS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored API key is corrupt"))
            .transpose()
    }

    /// The key whose secret hashes to `hash`, if it was not revoked.
    pub fn api_key_by_hash(&self, hash: &[u8; 32]) -> anyhow::Result<Option<ApiKeyRecord>> {
        let hashes = self.tree(API_KEY_HASHES)?;
        let Some(id) = hashes.get(hash)? else {
            return Ok(None);
        };
        let id = Id::from_bytes(
            id.as_ref()
                .try_into()
                .context("a stored API key hash points at a malformed id")?,
        );
        self.api_key(id)
    }

    /// The organisation's keys, newest first (revoked ones too).
    pub fn api_keys_of_org(&self, org: Id) -> anyhow::Result<Vec<ApiKeyRecord>> {
        let tree = self.tree(API_KEYS)?;
        let mut keys = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let key: ApiKeyRecord =
                serde_json::from_slice(&bytes).context("a stored API key is corrupt")?;
            if key.org == org {
                keys.push(key);
            }
        }
        keys.sort_by_key(|key| std::cmp::Reverse(key.created_at));
        Ok(keys)
    }

    /// Revokes a key of `org` at `now`, while the session `guard` names is alive: its record
    /// is stamped and its hash removed in one transaction. `Ok(None)`: no such key in `org`;
    /// `Ok(Some(false))`: it was already revoked.
    pub fn revoke_api_key(
        &self,
        org: Id,
        id: Id,
        now: i64,
        guard: &SessionGuard,
    ) -> anyhow::Result<Updated<bool, ApiKeyRecord>> {
        let Some(key) = self.api_key(id)?.filter(|key| key.org == org) else {
            return Ok(Updated::Missing);
        };
        let updated = self.update_record(API_KEYS, id.as_bytes(), Some(guard), "API key", {
            move |key: &mut ApiKeyRecord| {
                if key.revoked_at.is_some() {
                    return false;
                }
                key.revoked_at = Some(now);
                true
            }
        })?;
        // The stamp is what refuses the key (`live`); removing the hash afterwards (also when a
        // crash came between the two, on a second revoke) leaves nothing that finds it.
        if let Updated::Done { .. } = updated {
            let hashes = self.tree(API_KEY_HASHES)?;
            hashes.remove(key.hash)?;
        }
        Ok(updated)
    }

    /// Records that the key was used at `now` (at most once a minute).
    pub fn touch_api_key(&self, key: &ApiKeyRecord, now: i64) -> anyhow::Result<()> {
        if key
            .last_used_at
            .is_some_and(|at| now - at < TOUCH_EVERY_SECONDS)
        {
            return Ok(());
        }
        self.update_record(
            API_KEYS,
            key.id.as_bytes(),
            None,
            "API key",
            |key: &mut ApiKeyRecord| {
                if key.last_used_at.is_none_or(|at| at < now) {
                    key.last_used_at = Some(now);
                }
            },
        )?;
        Ok(())
    }

    /// Removes every key of `org` and its hash (the organisation is being purged).
    pub fn delete_api_keys_of_org(&self, org: Id) -> anyhow::Result<()> {
        let (keys, hashes) = (self.tree(API_KEYS)?, self.tree(API_KEY_HASHES)?);
        for key in self.api_keys_of_org(org)? {
            let result: Result<(), TransactionError<()>> = super::durability::gated(|| {
                (keys.raw(), hashes.raw()).transaction(|(keys, hashes)| {
                    keys.remove(key.id.as_bytes().as_slice())?;
                    hashes.remove(key.hash.as_slice())?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
            });
            result.map_err(|error| {
                anyhow::anyhow!("{error:?}").context("while deleting an API key")
            })?;
            self.wrote();
        }
        Ok(())
    }
}
