//! Chunk ciphertext in an S3-compatible bucket (`[blobs] backend = "s3"`), through Apache
//! Arrow's `object_store`. Only sealed chunks go there, as `<prefix>/<bundle id>/<file>-<chunk>`:
//! a bundle's key material and receipt key stay in its folder in the data directory (see
//! `blobs`), so destroying a link or a document is a local deletion whatever the bucket keeps
//! (object versions, replicas, backups), and a chunk left anywhere is ciphertext whose key is
//! gone.
//!
//! A PUT that the store answered 2xx is durable by the store's own contract (S3 acknowledges a
//! write once it is stored redundantly), which is what the relay's "2xx means on disk" rests
//! on for this backend.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload};
use shared::ids::Id;

use crate::config::S3Config;

/// Deletions and uploads of one migration step in flight at once.
pub(super) const IN_FLIGHT: usize = 8;

/// One bucket and the prefix this relay owns in it.
pub(super) struct Bucket {
    client: Arc<AmazonS3>,
    prefix: Path,
    /// `s3://bucket/prefix`, recorded in the data directory (see `Store::open_with`).
    name: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Bucket {
    /// A client for the bucket of `config` (no request is made here).
    pub(super) fn connect(config: &S3Config) -> anyhow::Result<Self> {
        config.check().map_err(anyhow::Error::msg)?;
        // The HTTPS client is rustls without a built-in provider (see the workspace manifest):
        // ring becomes the process default once; a second install finds it there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(config.bucket.trim())
            .with_region(config.region.trim())
            .with_allow_http(config.allow_http)
            .with_virtual_hosted_style_request(!config.path_style)
            // A few quick retries ride out a blip; a store that stays away answers 503 within
            // seconds (the uploader's own retry takes over), not after object_store's default
            // three minutes with a request held open.
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(15),
            });
        if !config.endpoint.trim().is_empty() {
            builder = builder.with_endpoint(config.endpoint.trim());
        }
        if !config.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(config.access_key_id.trim())
                .with_secret_access_key(config.secret_access_key.dangerously_expose());
        }
        let client = builder
            .build()
            .context("while setting up the S3 client ([blobs.s3])")?;
        let trimmed = config.prefix.trim().trim_matches('/');
        let prefix = Path::parse(trimmed)
            .with_context(|| format!("[blobs.s3] prefix {trimmed:?} is not a valid object path"))?;
        Ok(Self {
            client: Arc::new(client),
            name: format!("s3://{}/{}", config.bucket.trim(), prefix),
            prefix,
        })
    }

    /// `s3://bucket/prefix`.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    fn bundle(&self, id: Id) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    fn chunk_path(&self, id: Id, file: u32, chunk: u32) -> Path {
        self.bundle(id).join(format!("{file}-{chunk}"))
    }

    /// Stores one sealed chunk (replacing an earlier upload of it); returns once the store
    /// acknowledged it.
    pub(super) async fn put(
        &self,
        id: Id,
        file: u32,
        chunk: u32,
        sealed: Bytes,
    ) -> anyhow::Result<()> {
        let path = self.chunk_path(id, file, chunk);
        self.client
            .put(&path, PutPayload::from(sealed))
            .await
            .with_context(|| format!("while storing {path} in {}", self.name))?;
        Ok(())
    }

    /// A sealed chunk, or `None` if the bucket does not hold it.
    pub(super) async fn get(&self, id: Id, file: u32, chunk: u32) -> anyhow::Result<Option<Bytes>> {
        let path = self.chunk_path(id, file, chunk);
        let found = match self.client.get(&path).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("while reading {path} from {}", self.name));
            }
        };
        found
            .bytes()
            .await
            .map(Some)
            .with_context(|| format!("while reading {path} from {}", self.name))
    }

    /// The stored length of each chunk of bundle `id`, by `(file, chunk)`.
    pub(super) async fn chunk_lengths(&self, id: Id) -> anyhow::Result<BTreeMap<(u32, u32), u64>> {
        let bundle = self.bundle(id);
        let mut lengths = BTreeMap::new();
        let mut listing = self.client.list(Some(&bundle));
        while let Some(object) = listing.next().await {
            let object =
                object.with_context(|| format!("while listing {bundle} in {}", self.name))?;
            if let Some(key) = object.location.filename().and_then(super::blobs::chunk_key) {
                lengths.insert(key, object.size);
            }
        }
        Ok(lengths)
    }

    /// Deletes every object of bundle `id` (no error if there was none).
    pub(super) async fn delete_bundle(&self, id: Id) -> anyhow::Result<()> {
        let bundle = self.bundle(id);
        let locations = self
            .client
            .list(Some(&bundle))
            .map_ok(|object| object.location)
            .boxed();
        self.client
            .delete_stream(locations)
            .try_for_each(|_| futures::future::ready(Ok(())))
            .await
            .with_context(|| format!("while deleting {bundle} from {}", self.name))
    }

    /// The ids of the bundles that have objects under the prefix.
    pub(super) async fn bundles(&self) -> anyhow::Result<Vec<Id>> {
        let listing = self
            .client
            .list_with_delimiter(Some(&self.prefix))
            .await
            .with_context(|| format!("while listing {}", self.name))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|folder| folder.filename())
            .filter_map(|name| Id::parse(name).ok())
            .collect())
    }
}
