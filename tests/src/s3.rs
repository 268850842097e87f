//! The S3-compatible server of the bucket tests: `.ci/test` starts moto's server mode on
//! loopback, creates the bucket `sealpost-tests` and names the server in `TEST_S3_ENDPOINT`.
//! Each relay gets a prefix of its own in that bucket (`bucket`). What the bucket holds is
//! read here with plain S3 requests (`objects`), not through the relay's own client, so a test
//! sees what the store really has.
//!
//! `TEST_BLOBS=s3` makes every `TestRelay` keep its chunks in the bucket: `.ci/test`
//! runs the Secure Send and document flows a second time that way.

use anyhow::Context as _;
use rand_core::RngCore as _;
use relay::config::{BlobBackend, BlobsConfig, S3Config};

/// The bucket `.ci/test` creates.
pub const BUCKET: &str = "sealpost-tests";

/// The S3 server's address, from `TEST_S3_ENDPOINT`.
pub fn endpoint() -> anyhow::Result<String> {
    std::env::var("TEST_S3_ENDPOINT").context(
        "TEST_S3_ENDPOINT is not set: the bucket tests need an S3-compatible server; `.ci/test` \
         starts one (moto, see .ci/lib.sh `start_s3_server`)",
    )
}

/// Whether every test relay should keep its chunks in the bucket (`TEST_BLOBS=s3`).
pub fn everywhere() -> bool {
    std::env::var("TEST_BLOBS").is_ok_and(|value| value == "s3")
}

/// A chunk backend in the test bucket, under a fresh prefix of its own.
pub fn bucket() -> anyhow::Result<BlobsConfig> {
    let mut random = [0_u8; 8];
    shared::crypto::OsRng.fill_bytes(&mut random);
    Ok(BlobsConfig {
        backend: BlobBackend::S3,
        s3: S3Config {
            bucket: BUCKET.to_owned(),
            prefix: format!("relays/{}", hex::encode(random)),
            endpoint: endpoint()?,
            region: "us-east-1".to_owned(),
            access_key_id: "sealpost-test".to_owned(),
            secret_access_key: relay::config::Secret::new("sealpost-test-secret".to_owned()),
            allow_http: true,
            path_style: true,
        },
    })
}

/// The same bucket settings as `SEALPOST_BLOBS__*` variables, for the relay binary.
pub fn environment(blobs: &BlobsConfig) -> Vec<(&'static str, String)> {
    vec![
        ("SEALPOST_BLOBS__S3__BUCKET", blobs.s3.bucket.clone()),
        ("SEALPOST_BLOBS__S3__PREFIX", blobs.s3.prefix.clone()),
        ("SEALPOST_BLOBS__S3__ENDPOINT", blobs.s3.endpoint.clone()),
        (
            "SEALPOST_BLOBS__S3__ACCESS_KEY_ID",
            blobs.s3.access_key_id.clone(),
        ),
        (
            "SEALPOST_BLOBS__S3__SECRET_ACCESS_KEY",
            blobs.s3.secret_access_key.dangerously_expose().to_owned(),
        ),
        ("SEALPOST_BLOBS__S3__ALLOW_HTTP", "true".to_owned()),
    ]
}

/// The keys (below the relay's prefix) of every object under `blobs`'s prefix, sorted.
pub async fn objects(blobs: &BlobsConfig) -> anyhow::Result<Vec<String>> {
    Ok(listing(blobs)
        .await?
        .into_iter()
        .map(|(key, _)| key)
        .collect())
}

/// `(file, chunk, bytes)` of every object of bundle `id` under `blobs`'s prefix.
pub async fn chunk_lengths(blobs: &BlobsConfig, id: &str) -> anyhow::Result<Vec<(u32, u32, u64)>> {
    let mut found = Vec::new();
    for (key, size) in listing(blobs).await? {
        let Some(name) = key.strip_prefix(&format!("{id}/")) else {
            continue;
        };
        let (file, chunk) = name.split_once('-').context("a chunk's name")?;
        found.push((file.parse()?, chunk.parse()?, size));
    }
    anyhow::ensure!(!found.is_empty(), "no objects of {id} in the bucket");
    Ok(found)
}

/// `(key below the prefix, size)` of every object under `blobs`'s prefix, sorted.
pub async fn listing(blobs: &BlobsConfig) -> anyhow::Result<Vec<(String, u64)>> {
    let prefix = format!("{}/", blobs.s3.prefix);
    let client = reqwest::Client::new();
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("list-type", "2".to_owned()), ("prefix", prefix.clone())];
        if let Some(token) = &token {
            query.push(("continuation-token", token.clone()));
        }
        let answer = client
            .get(format!("{}/{}", blobs.s3.endpoint, blobs.s3.bucket))
            .query(&query)
            .send()
            .await
            .context("while listing the test bucket")?;
        anyhow::ensure!(
            answer.status().is_success(),
            "listing answered {}",
            answer.status()
        );
        let xml = answer.text().await?;
        for contents in elements(&xml, "Contents") {
            let key = elements(&contents, "Key")
                .into_iter()
                .next()
                .context("a key")?;
            let size = elements(&contents, "Size")
                .into_iter()
                .next()
                .context("a size")?;
            keys.push((key.trim_start_matches(&prefix).to_owned(), size.parse()?));
        }
        token = elements(&xml, "NextContinuationToken").into_iter().next();
        if token.is_none() {
            break;
        }
    }
    keys.sort();
    Ok(keys)
}

/// Stores `bytes` as `key` below `blobs`'s prefix, as anything else with the credentials could.
pub async fn put(blobs: &BlobsConfig, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    let answer = reqwest::Client::new()
        .put(format!(
            "{}/{}/{}/{key}",
            blobs.s3.endpoint, blobs.s3.bucket, blobs.s3.prefix
        ))
        .body(bytes)
        .send()
        .await
        .context("while storing a test object")?;
    anyhow::ensure!(
        answer.status().is_success(),
        "the PUT answered {}",
        answer.status()
    );
    Ok(())
}

/// The texts of every `<name>` element of `xml` (S3's listings escape no character a key of
/// ours holds).
fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| {
            rest.split_once(close.as_str())
                .map(|(text, _)| text.to_owned())
        })
        .collect()
}
