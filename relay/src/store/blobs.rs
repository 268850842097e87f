//! Chunk ciphertext as files: `blobs/<send id>/<file>-<chunk>`, one file per sealed chunk,
//! written to a temporary name and renamed into place so a reader never sees half a chunk.
//! Bulk ciphertext lives beside sled rather than in it: deleting a file removes the bytes at
//! once (sled's log would keep deleted values until its segments are rewritten, and
//! "destroyed" must mean gone), and chunks never pass through sled's page cache, so the
//! relay's memory stays flat whatever the bundle sizes. Metadata stays in sled.

use std::path::PathBuf;

use anyhow::Context as _;
use shared::ids::Id;

use super::Store;

impl Store {
    /// Where chunk `chunk` of file `file` of `send` is kept.
    pub fn chunk_path(&self, send: Id, file: u32, chunk: u32) -> PathBuf {
        self.blobs
            .join(send.to_string())
            .join(format!("{file}-{chunk}"))
    }

    /// Stores one sealed chunk (replacing an earlier upload of the same chunk).
    pub async fn put_chunk(
        &self,
        send: Id,
        file: u32,
        chunk: u32,
        sealed: &[u8],
    ) -> anyhow::Result<()> {
        let path = self.chunk_path(send, file, chunk);
        let folder = self.blobs.join(send.to_string());
        tokio::fs::create_dir_all(&folder)
            .await
            .with_context(|| format!("while creating {}", folder.display()))?;
        let mut nonce = [0_u8; 8];
        rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut nonce);
        let temporary = folder.join(format!(
            ".{file}-{chunk}.{}.part",
            shared::encoding::encode(&nonce)
        ));
        tokio::fs::write(&temporary, sealed)
            .await
            .with_context(|| format!("while writing {}", temporary.display()))?;
        tokio::fs::rename(&temporary, &path)
            .await
            .with_context(|| format!("while moving a chunk into {}", path.display()))?;
        Ok(())
    }

    /// The sealed chunk, or `None` if it is not (or no longer) stored.
    pub async fn chunk(&self, send: Id, file: u32, chunk: u32) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.chunk_path(send, file, chunk);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("while reading {}", path.display())),
        }
    }

    /// The stored length of a chunk, or `None` if it is missing.
    pub async fn chunk_len(&self, send: Id, file: u32, chunk: u32) -> anyhow::Result<Option<u64>> {
        let path = self.chunk_path(send, file, chunk);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("while checking {}", path.display())),
        }
    }

    /// Deletes every chunk of `send` (no error if there were none).
    pub async fn delete_chunks(&self, send: Id) -> anyhow::Result<()> {
        let folder = self.blobs.join(send.to_string());
        match tokio::fs::remove_dir_all(&folder).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => {
                Err(error).with_context(|| format!("while deleting {}", folder.display()))
            }
        }
    }
}
