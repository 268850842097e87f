//! Moving a data directory's chunks between its bundle folders and a bucket
//! (`sealpost-relay admin blobs migrate --to s3|files`), with the relay stopped (a running
//! relay holds the database, and opening it here fails).
//!
//! Resumable: the data directory first records `migrating:<target>` (no relay starts on it
//! until the move finished), then each bundle is copied chunk by chunk (a chunk already at the
//! target with the same length is skipped), and only once every chunk of a bundle is durable
//! at the target are its copies at the source deleted. Interrupted at any point, the next run
//! finds each chunk in one place or in both, never in neither, and finishes the job.

use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::blobs::{bundle_folders, chunk_files, write_durably};
use super::bucket::IN_FLIGHT;
use super::durability::sync_folder;
use super::{FILES, MIGRATING, Store, chunks_elsewhere};
use crate::config::{BlobBackend, BlobsConfig, S3Config};

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlobMigration {
    /// Where the chunks were (`files` or `s3://bucket/prefix`), and where they are now.
    pub from: String,
    pub to: String,
    /// Bundles whose chunks were moved.
    pub bundles: usize,
    /// Chunks copied, and their bytes.
    pub chunks: usize,
    pub bytes: u64,
    /// Chunks already at the target (an earlier, interrupted run copied them).
    pub already_there: usize,
    /// Bundles whose objects were in the bucket but whose folder is gone (they ended): their
    /// objects were deleted, not copied.
    pub orphans_deleted: usize,
}

impl Store {
    /// Moves the chunks of the data directory in `data_dir` to `to`, using the bucket of `s3`
    /// in either direction; `progress` hears of each bundle moved.
    pub async fn migrate_blobs(
        data_dir: &Path,
        s3: &S3Config,
        to: BlobBackend,
        mut progress: impl FnMut(&BlobMigration),
    ) -> anyhow::Result<BlobMigration> {
        let store = Self::open_unchecked(
            data_dir,
            &BlobsConfig {
                backend: BlobBackend::S3,
                s3: s3.clone(),
            },
        )?;
        let bucket = store
            .bucket
            .clone()
            .context("the migration needs the bucket of [blobs.s3]")?;
        let target = match to {
            BlobBackend::Files => FILES.to_owned(),
            BlobBackend::S3 => bucket.name().to_owned(),
        };
        let recorded = store.chunks_at()?.unwrap_or_else(|| FILES.to_owned());
        let source = recorded.strip_prefix(MIGRATING).unwrap_or(&recorded);
        let mut report = BlobMigration {
            from: recorded.clone(),
            to: target.clone(),
            ..BlobMigration::default()
        };
        if recorded == target {
            return Ok(report);
        }
        // Only between the files and this one bucket (a move between buckets goes through
        // files): otherwise chunks could be left in a place no configuration names.
        let movable = |place: &str| place == FILES || place == bucket.name();
        anyhow::ensure!(movable(source), "{}", chunks_elsewhere(&recorded, &target));
        store.record_chunks_at(&format!("{MIGRATING}{target}"))?;
        match to {
            BlobBackend::S3 => {
                let blobs = store.blobs.as_ref().clone();
                let mut ids = tokio::task::spawn_blocking(move || bundle_folders(&blobs))
                    .await
                    .context("the listing task panicked")??;
                ids.sort();
                for id in ids {
                    let folder = store.bundle_folder(id);
                    let listed = folder.clone();
                    let files = tokio::task::spawn_blocking(move || chunk_files(&listed))
                        .await
                        .context("the listing task panicked")??;
                    if files.is_empty() {
                        continue;
                    }
                    let there = bucket.chunk_lengths(id).await?;
                    let copies = futures::stream::iter(files.iter().map(|(key, (path, len))| {
                        let bucket = &bucket;
                        let skip = there.get(key) == Some(len);
                        async move {
                            if skip {
                                return Ok::<_, anyhow::Error>((0, 0));
                            }
                            let bytes = tokio::fs::read(path)
                                .await
                                .with_context(|| format!("while reading {}", path.display()))?;
                            anyhow::ensure!(
                                bytes.len() as u64 == *len,
                                "{} changed while it was moved",
                                path.display()
                            );
                            bucket.put(id, key.0, key.1, Bytes::from(bytes)).await?;
                            Ok((1, *len))
                        }
                    }))
                    .buffer_unordered(IN_FLIGHT)
                    .try_collect::<Vec<_>>()
                    .await?;
                    count(&mut report, files.len(), &copies);
                    // Every chunk of the bundle is in the bucket: now the files go.
                    let doomed: Vec<_> = files.into_values().map(|(path, _)| path).collect();
                    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                        for path in &doomed {
                            match std::fs::remove_file(path) {
                                Ok(()) => {}
                                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                                Err(error) => {
                                    return Err(error).with_context(|| {
                                        format!("while deleting {}", path.display())
                                    });
                                }
                            }
                        }
                        sync_folder(&folder)
                    })
                    .await
                    .context("the deletion task panicked")??;
                    progress(&report);
                }
            }
            BlobBackend::Files => {
                let mut ids = bucket.bundles().await?;
                ids.sort();
                for id in ids {
                    let folder = store.bundle_folder(id);
                    if !tokio::fs::try_exists(&folder).await.unwrap_or(false) {
                        // The bundle ended: nothing may be written for it (its key material is
                        // gone), and its objects are deleted as the sweep would.
                        bucket.delete_bundle(id).await?;
                        report.orphans_deleted += 1;
                        continue;
                    }
                    let objects = bucket.chunk_lengths(id).await?;
                    let listed = folder.clone();
                    let here = tokio::task::spawn_blocking(move || chunk_files(&listed))
                        .await
                        .context("the listing task panicked")??;
                    let copies = futures::stream::iter(objects.iter().map(|(key, len)| {
                        let (bucket, folder) = (&bucket, &folder);
                        let skip = here.get(key).map(|(_, have)| have) == Some(len);
                        async move {
                            if skip {
                                return Ok::<_, anyhow::Error>((0, 0));
                            }
                            let bytes = bucket
                                .get(id, key.0, key.1)
                                .await?
                                .with_context(|| format!("chunk {key:?} of {id} vanished"))?;
                            let (folder, name) = (folder.clone(), format!("{}-{}", key.0, key.1));
                            tokio::task::spawn_blocking(move || {
                                write_durably(&folder, &name, &bytes)
                            })
                            .await
                            .context("the write task panicked")??;
                            Ok((1, *len))
                        }
                    }))
                    .buffer_unordered(IN_FLIGHT)
                    .try_collect::<Vec<_>>()
                    .await?;
                    count(&mut report, objects.len(), &copies);
                    // Every chunk of the bundle is on disk: now the objects go.
                    bucket.delete_bundle(id).await?;
                    progress(&report);
                }
            }
        }
        store.record_chunks_at(&target)?;
        Ok(report)
    }
}

fn count(report: &mut BlobMigration, chunks: usize, copies: &[(usize, u64)]) {
    let copied: usize = copies.iter().map(|(copied, _)| copied).sum();
    report.bundles += 1;
    report.chunks += copied;
    report.bytes += copies.iter().map(|(_, bytes)| bytes).sum::<u64>();
    report.already_there += chunks - copied;
}
