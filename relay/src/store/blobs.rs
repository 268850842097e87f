//! Bundle folders: `blobs/<bundle id>/` holds what one send or document carries, as files:
//! one per sealed chunk (`<file>-<chunk>`; in the bucket instead when `[blobs] backend = "s3"`,
//! see `bucket`), its key material (`keys`: a link's verifier and
//! wrapped key, or a document's wrapped keys, and the sealed manifest) and a link's receipt key
//! (`receipt`). Bulk ciphertext and everything that must be destroyed live here rather than
//! in sled: deleting a file removes the bytes at once, while sled keeps earlier versions of a
//! record in its log until its segments are rewritten, and "destroyed" must mean gone from
//! every file of the data directory. Chunks also never pass through sled's cache, so memory
//! stays flat whatever the bundle sizes. Metadata stays in sled.
//!
//! Every write is durable before it returns (written to a temporary name, synced, renamed into
//! place, the folder synced), so a reader never sees half a file and a 2xx after it is on disk;
//! a deletion syncs the folder that held the removed entry.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bytes::Bytes;
use rand_core::RngCore as _;
use serde::{Deserialize, Serialize};
use shared::crypto::{LinkVerifier, LinkWrappedKey, SealedManifest};
use shared::ids::Id;
use shared::wire::ReaderKey;

use super::Store;
use super::durability::{gated, sync_folder};

/// The file of a bundle's key material.
const KEYS: &str = "keys";
/// The file of a link's receipt key.
const RECEIPT: &str = "receipt";

/// What opens a link, kept only in its bundle folder: gone the moment the link is used up,
/// destroyed, revoked or expired.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkKeys {
    /// `SHA-256(proof)`.
    pub verifier: LinkVerifier,
    /// `AES-256-GCM(link_key, K)`.
    pub wrapped_key: LinkWrappedKey,
    pub manifest: SealedManifest,
}

/// What opens a document for its readers, kept only in its bundle folder.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentKeys {
    /// `K` wrapped to each reader.
    pub readers: Vec<ReaderKey>,
    pub manifest: SealedManifest,
    /// For an authorisation of a request by link: `K` under the request key.
    #[serde(default)]
    pub link_wrapped_key: Option<LinkWrappedKey>,
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKeys").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DocumentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentKeys")
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Where chunk `chunk` of file `file` of bundle `id` is kept.
    pub fn chunk_path(&self, id: Id, file: u32, chunk: u32) -> PathBuf {
        self.bundle_folder(id).join(format!("{file}-{chunk}"))
    }

    /// Stores one sealed chunk durably (replacing an earlier upload of the same chunk): a
    /// file synced into the bundle's folder, or an object the bucket acknowledged. Either way
    /// the bundle's folder must exist: a bundle whose folder is gone has ended, and nothing is
    /// written for it.
    pub async fn put_chunk(
        &self,
        id: Id,
        file: u32,
        chunk: u32,
        sealed: Bytes,
    ) -> anyhow::Result<()> {
        let len = sealed.len();
        match &self.bucket {
            None => self.put_file(id, format!("{file}-{chunk}"), sealed).await?,
            Some(bucket) => {
                let folder = self.bundle_folder(id);
                anyhow::ensure!(
                    tokio::fs::try_exists(&folder).await.unwrap_or(false),
                    "bundle {id} has no folder (it ended); its chunk is not stored"
                );
                bucket.put(id, file, chunk, sealed).await?;
            }
        }
        self.metrics.chunk_stored(len);
        Ok(())
    }

    /// The sealed chunk, or `None` if it is not (or no longer) stored.
    pub async fn chunk(&self, id: Id, file: u32, chunk: u32) -> anyhow::Result<Option<Bytes>> {
        let read = match &self.bucket {
            None => read_if_there(&self.chunk_path(id, file, chunk))
                .await?
                .map(Bytes::from),
            Some(bucket) => bucket.get(id, file, chunk).await?,
        };
        if let Some(bytes) = &read {
            self.metrics.chunk_served(bytes.len());
        }
        Ok(read)
    }

    /// The stored length of a chunk, or `None` if it is missing.
    pub async fn chunk_len(&self, id: Id, file: u32, chunk: u32) -> anyhow::Result<Option<u64>> {
        Ok(self.chunk_lengths(id).await?.get(&(file, chunk)).copied())
    }

    /// The stored length of every chunk of bundle `id`, by `(file, chunk)`: one listing of its
    /// folder or of its objects, whatever the bundle's size.
    pub async fn chunk_lengths(&self, id: Id) -> anyhow::Result<BTreeMap<(u32, u32), u64>> {
        match &self.bucket {
            None => {
                let folder = self.bundle_folder(id);
                tokio::task::spawn_blocking(move || chunk_files(&folder))
                    .await
                    .context("the listing task panicked")?
                    .map(|files| {
                        files
                            .into_iter()
                            .map(|(key, (_, len))| (key, len))
                            .collect()
                    })
            }
            Some(bucket) => bucket.chunk_lengths(id).await,
        }
    }

    /// Stores a link's key material and receipt key durably.
    pub async fn put_link_keys(
        &self,
        id: Id,
        keys: &LinkKeys,
        receipt_key: [u8; 32],
    ) -> anyhow::Result<()> {
        self.put_file(id, RECEIPT.to_owned(), receipt_key).await?;
        let bytes = serde_json::to_vec(keys).context("while encoding link keys")?;
        self.put_file(id, KEYS.to_owned(), bytes).await
    }

    /// A link's key material, if still stored.
    pub async fn link_keys(&self, id: Id) -> anyhow::Result<Option<LinkKeys>> {
        read_if_there(&self.bundle_folder(id).join(KEYS))
            .await?
            .map(|bytes| serde_json::from_slice(&bytes).context("stored link keys are corrupt"))
            .transpose()
    }

    /// A link's receipt key, if still stored.
    pub async fn receipt_key(&self, id: Id) -> anyhow::Result<Option<[u8; 32]>> {
        read_if_there(&self.bundle_folder(id).join(RECEIPT))
            .await?
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice()).context("a stored receipt key is corrupt")
            })
            .transpose()
    }

    /// Stores a document's key material durably.
    pub async fn put_document_keys(&self, id: Id, keys: &DocumentKeys) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(keys).context("while encoding document keys")?;
        self.put_file(id, KEYS.to_owned(), bytes).await
    }

    /// A document's key material, if still stored.
    pub async fn document_keys(&self, id: Id) -> anyhow::Result<Option<DocumentKeys>> {
        read_if_there(&self.bundle_folder(id).join(KEYS))
            .await?
            .map(|bytes| serde_json::from_slice(&bytes).context("stored document keys are corrupt"))
            .transpose()
    }

    /// Destroys a bundle's key material (a used-up link: its chunks and receipt key stay until
    /// the downloads are over). The folder is not synced here: should a power cut bring the
    /// entry back, the record already says the link is used up, and the sweep deletes the
    /// file again (`sweep_folders`); not syncing keeps one-time openings off the disk's
    /// queue.
    pub async fn delete_keys(&self, id: Id) -> anyhow::Result<()> {
        let path = self.bundle_folder(id).join(KEYS);
        let removed = tokio::task::spawn_blocking({
            let path = path.clone();
            move || gated(|| std::fs::remove_file(&path))
        })
        .await
        .context("the deletion task panicked")?;
        match removed {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error).with_context(|| format!("while deleting {}", path.display())),
        }
    }

    /// Whether a bundle's key material is still stored.
    pub async fn has_keys(&self, id: Id) -> anyhow::Result<bool> {
        tokio::fs::try_exists(self.bundle_folder(id).join(KEYS))
            .await
            .context("while looking for key material")
    }

    /// Deletes everything of bundle `id` (no error if there was nothing), durably: its folder
    /// first (key material, and the chunks on the files backend), then its objects in the
    /// bucket.
    pub async fn delete_chunks(&self, id: Id) -> anyhow::Result<()> {
        let folder = self.bundle_folder(id);
        let blobs = self.blobs.as_ref().clone();
        tokio::task::spawn_blocking(move || delete_folder(&folder, &blobs))
            .await
            .context("the deletion task panicked")??;
        match &self.bucket {
            None => Ok(()),
            Some(bucket) => bucket.delete_bundle(id).await,
        }
    }

    /// `delete_chunks` for callers that are not async: the bundle's folder only. Objects in a
    /// bucket are left to the folder sweep (`retention::sweep_folders`), which deletes every
    /// bundle's objects once its record is gone.
    pub fn delete_folder_blocking(&self, id: Id) -> anyhow::Result<()> {
        delete_folder(&self.bundle_folder(id), &self.blobs)
    }

    /// The ids of every bundle with a folder on disk or objects in the bucket (for the sweep
    /// that removes what belongs to bundles that ended or are gone).
    pub async fn stored_bundles(&self) -> anyhow::Result<Vec<Id>> {
        let mut ids = std::collections::BTreeSet::new();
        let blobs = self.blobs.as_ref().clone();
        ids.extend(
            tokio::task::spawn_blocking(move || bundle_folders(&blobs))
                .await
                .context("the listing task panicked")??,
        );
        if let Some(bucket) = &self.bucket {
            ids.extend(bucket.bundles().await?);
        }
        Ok(ids.into_iter().collect())
    }

    pub(super) fn bundle_folder(&self, id: Id) -> PathBuf {
        self.blobs.join(id.to_string())
    }

    /// Creates bundle `id`'s folder durably (it and its entry in `blobs/` synced), when the
    /// bundle is reserved: every later write into it is then durable by syncing the folder
    /// alone, however many uploads run at once.
    pub async fn create_bundle_folder(&self, id: Id) -> anyhow::Result<()> {
        let folder = self.bundle_folder(id);
        let blobs = self.blobs.as_ref().clone();
        tokio::task::spawn_blocking(move || create_folder(&blobs, &folder))
            .await
            .context("the folder task panicked")?
    }

    /// Writes `name` in bundle `id`'s folder durably (see `write_durably`). The folder must
    /// exist: a bundle whose folder is gone has ended, and nothing is written for it.
    async fn put_file(
        &self,
        id: Id,
        name: String,
        bytes: impl AsRef<[u8]> + Send + 'static,
    ) -> anyhow::Result<()> {
        let folder = self.bundle_folder(id);
        tokio::task::spawn_blocking(move || write_durably(&folder, &name, bytes.as_ref()))
            .await
            .context("the write task panicked")?
    }

    /// `put_link_keys` for callers that are not async (the schema migration).
    pub(super) fn put_link_keys_blocking(
        &self,
        id: Id,
        keys: Option<&LinkKeys>,
        receipt_key: [u8; 32],
    ) -> anyhow::Result<()> {
        let folder = self.bundle_folder(id);
        create_folder(&self.blobs, &folder)?;
        write_durably(&folder, RECEIPT, &receipt_key)?;
        if let Some(keys) = keys {
            let bytes = serde_json::to_vec(keys).context("while encoding link keys")?;
            write_durably(&folder, KEYS, &bytes)?;
        }
        Ok(())
    }

    /// `put_document_keys` for callers that are not async (the schema migration).
    pub(super) fn put_document_keys_blocking(
        &self,
        id: Id,
        keys: &DocumentKeys,
    ) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(keys).context("while encoding document keys")?;
        let folder = self.bundle_folder(id);
        create_folder(&self.blobs, &folder)?;
        write_durably(&folder, KEYS, &bytes)
    }

    /// `create_bundle_folder` for callers that are not async (the schema migration).
    pub(super) fn create_bundle_folder_blocking(&self, id: Id) -> anyhow::Result<()> {
        create_folder(&self.blobs, &self.bundle_folder(id))
    }
}

/// The ids of the bundle folders in `blobs`.
pub(super) fn bundle_folders(blobs: &Path) -> anyhow::Result<Vec<Id>> {
    let mut ids = Vec::new();
    let entries =
        std::fs::read_dir(blobs).with_context(|| format!("while listing {}", blobs.display()))?;
    for entry in entries {
        let entry = entry.context("while listing the bundle folders")?;
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|name| Id::parse(name).ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `(file, chunk)` of a chunk's name (`<file>-<chunk>`); `None` for any other name (key
/// material, temporary files).
pub(super) fn chunk_key(name: &str) -> Option<(u32, u32)> {
    let (file, chunk) = name.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(file) || !digits(chunk) {
        return None;
    }
    Some((file.parse().ok()?, chunk.parse().ok()?))
}

/// The chunk files in `folder` with their paths and lengths (none if the folder is gone).
pub(super) fn chunk_files(folder: &Path) -> anyhow::Result<BTreeMap<(u32, u32), (PathBuf, u64)>> {
    let mut files = BTreeMap::new();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => {
            return Err(error).with_context(|| format!("while listing {}", folder.display()));
        }
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("while listing {}", folder.display()))?;
        let Some(key) = entry.file_name().to_str().and_then(chunk_key) else {
            continue;
        };
        let metadata = entry
            .metadata()
            .with_context(|| format!("while reading {}", entry.path().display()))?;
        files.insert(key, (entry.path(), metadata.len()));
    }
    Ok(files)
}

/// Creates `folder` in `blobs` durably (no error if it exists).
pub(super) fn create_folder(blobs: &Path, folder: &Path) -> anyhow::Result<()> {
    let _gate = super::durability::admit();
    if folder.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(folder)
        .with_context(|| format!("while creating {}", folder.display()))?;
    sync_folder(folder)?;
    sync_folder(blobs)
}

/// Writes `name` in `folder` durably: a temporary file, synced, renamed into place, the folder
/// synced. The folder must exist (`create_folder`).
pub(super) fn write_durably(folder: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let _gate = super::durability::admit();
    let mut nonce = [0_u8; 8];
    shared::crypto::OsRng.fill_bytes(&mut nonce);
    let temporary = folder.join(format!(".{name}.{}.part", shared::encoding::encode(&nonce)));
    let written = std::fs::File::create(&temporary).and_then(|mut handle| {
        handle.write_all(bytes)?;
        handle.sync_data()
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("while writing {}", temporary.display()));
    }
    let path = folder.join(name);
    if let Err(error) = std::fs::rename(&temporary, &path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("while moving a file into {}", path.display()));
    }
    sync_folder(folder)
}

async fn read_if_there(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("while reading {}", path.display())),
    }
}

fn delete_folder(folder: &Path, blobs: &Path) -> anyhow::Result<()> {
    let _gate = super::durability::admit();
    match std::fs::remove_dir_all(folder) {
        Ok(()) => sync_folder(blobs),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("while deleting {}", folder.display())),
    }
}
