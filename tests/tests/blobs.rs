//! Chunk ciphertext in an S3-compatible bucket (issue 16), against the real S3 server that
//! `.ci/test` starts (moto, see `tests::s3`):
//! - a send's chunks live in the bucket and nowhere in the data directory, open with identical
//!   bytes, and leave the bucket when the send ends;
//! - the sweep removes objects that no live bundle owns;
//! - a relay refuses a data directory whose chunks are elsewhere, with the command that moves
//!   them;
//! - `admin blobs migrate` moves a relay's chunks to the bucket and back, resumes after being
//!   killed, and every link opens with identical bytes after each move.
//!
//! The Secure Send and document flows as a whole run against the bucket too: `.ci/test` runs
//! `documents` and the native send tests again with `TEST_BLOBS=s3`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shared::ids::Id;
use tests::native::{NativeClient, SentLink};
use tests::{RelayProcess, TestRelay, relay_binary, s3};

fn bytes_with(marker: &str, len: usize) -> Vec<u8> {
    marker.bytes().cycle().take(len).collect()
}

/// The chunk files (named `<file>-<chunk>`) anywhere in `data_dir`.
fn chunk_files_in(data_dir: &Path) -> Vec<String> {
    tests::flows::files_under(&data_dir.join("blobs"))
        .iter()
        .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
        .filter(|name| {
            name.split_once('-').is_some_and(|(file, chunk)| {
                [file, chunk]
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .collect()
}

/// The object keys a bundle of `files` should have under `id`, sorted.
fn keys_of(id: Id, chunks_per_file: &[u32]) -> Vec<String> {
    let mut keys: Vec<String> = chunks_per_file
        .iter()
        .enumerate()
        .flat_map(|(file, count)| (0..*count).map(move |chunk| format!("{id}/{file}-{chunk}")))
        .collect();
    keys.sort();
    keys
}

async fn opens_with_identical_bytes(base: &str, link: &SentLink) -> anyhow::Result<()> {
    let opened = NativeClient::anonymous(base)
        .open_link(link, &link.otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("the link did not open: {answer:?}"))?;
    anyhow::ensure!(
        opened == link.plaintexts,
        "link {} opened with other bytes",
        link.id
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sends_chunks_live_in_the_bucket_only_and_leave_it_when_it_ends() -> anyhow::Result<()> {
    let blobs = s3::bucket()?;
    let configured = blobs.clone();
    let relay = TestRelay::start_with(move |config| config.blobs = configured).await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "bucket-firm").await?;
    let files = vec![bytes_with("bucket", (5 << 20) / 2), bytes_with("small", 10)];
    let link = owner.send_files(&files, 2, None).await?;

    assert_eq!(s3::objects(&blobs).await?, keys_of(link.id, &[3, 1]));
    assert_eq!(
        chunk_files_in(relay.data_dir()),
        Vec::<String>::new(),
        "no chunk is kept in the data directory"
    );
    // Its key material stays in the data directory, never in the bucket.
    let keys = relay.data_dir().join("blobs").join(link.id.to_string());
    assert!(keys.join("keys").is_file() && keys.join("receipt").is_file());

    opens_with_identical_bytes(&relay.url, &link).await?;
    // A second link, revoked before anyone opened it: its objects go, the first one's stay.
    let revoked = owner
        .send_files(&[bytes_with("revoked", 3 << 19)], 1, None)
        .await?;
    assert_eq!(s3::objects(&blobs).await?.len(), 6);
    let answer = owner
        .post::<()>(&format!("/api/sends/{}/revoke", revoked.id), None)
        .await?;
    assert!((200..300).contains(&answer.status), "{answer:?}");
    assert_eq!(
        s3::objects(&blobs).await?,
        keys_of(link.id, &[3, 1]),
        "a revoked send's chunks are deleted from the bucket"
    );
    let folder = relay.data_dir().join("blobs").join(revoked.id.to_string());
    assert!(!folder.exists(), "and its folder (key material) is gone");
    relay.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_removes_objects_that_no_live_bundle_owns() -> anyhow::Result<()> {
    let blobs = s3::bucket()?;
    let configured = blobs.clone();
    let relay = TestRelay::start_with(move |config| config.blobs = configured).await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "sweep-firm").await?;
    let live = owner
        .send_files(&[bytes_with("live", 100)], 1, None)
        .await?;
    // Left by anything: a crash between an ending and its deletion, an old relay, a hand.
    let stranger = Id::generate(&mut shared::crypto::OsRng);
    s3::put(&blobs, &format!("{stranger}/0-0"), vec![7; 64]).await?;
    s3::put(&blobs, &format!("{stranger}/0-1"), vec![7; 64]).await?;
    assert_eq!(s3::objects(&blobs).await?.len(), 3);

    let report = relay::retention::sweep_folders(&relay.state().store).await?;
    assert_eq!(report.folders, 1, "{report:?}");
    assert_eq!(s3::objects(&blobs).await?, keys_of(live.id, &[1]));
    opens_with_identical_bytes(&relay.url, &live).await?;
    relay.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_refuses_a_data_directory_whose_chunks_are_elsewhere() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.blobs = relay::config::BlobsConfig::default();
    })
    .await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "files-firm").await?;
    owner
        .send_files(&[bytes_with("here", 100)], 1, None)
        .await?;
    let data = relay.stop_keeping_data().await?;

    let refused = relay::Store::open_with(data.path(), &s3::bucket()?)
        .expect_err("chunks on disk cannot be served from a bucket");
    let message = format!("{refused:#}");
    assert!(
        message.contains("are in files") && message.contains("admin blobs migrate --to s3"),
        "{message}"
    );
    // The files configuration still opens it.
    drop(relay::Store::open(data.path())?);
    Ok(())
}

/// Runs `sealpost-relay admin blobs migrate --to <to>` on `data_dir`.
fn migrate(data_dir: &Path, env: &[(&'static str, String)], to: &str) -> Command {
    let mut command = Command::new(relay_binary().expect("the relay binary"));
    command
        .args(["admin", "blobs", "migrate", "--to", to, "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn migrate_to_the_end(
    data_dir: &Path,
    env: &[(&'static str, String)],
    to: &str,
) -> anyhow::Result<String> {
    let output = migrate(data_dir, env, to).output()?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(
        output.status.success(),
        "migrate --to {to} failed: {printed}"
    );
    Ok(printed)
}

/// The relay binary on `data_dir` with chunks in the bucket (`s3`) or in files.
fn serve(
    data_dir: &Path,
    env: &[(&'static str, String)],
    backend: &str,
) -> anyhow::Result<RelayProcess> {
    let mut all: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    all.push(("SEALPOST_BLOBS__BACKEND", backend));
    RelayProcess::start(data_dir, &all)
}

#[tokio::test(flavor = "multi_thread")]
async fn migration_moves_every_chunk_to_the_bucket_and_back_and_resumes_after_a_kill()
-> anyhow::Result<()> {
    let blobs = s3::bucket()?;
    let env = s3::environment(&blobs);
    let data = tempfile::tempdir()?;

    // A relay with its chunks as files: twelve links of one to three files.
    let relay = serve(data.path(), &env, "files")?;
    let owner = NativeClient::verified_owner(&relay.url, data.path(), "moving-firm").await?;
    let mut links = Vec::new();
    let mut chunks = 0;
    for index in 0..12 {
        let files: Vec<Vec<u8>> = (0..=index % 3)
            .map(|file| {
                bytes_with(
                    &format!("link {index} file {file}"),
                    (1 << 20) * (1 + file) + index,
                )
            })
            .collect();
        chunks += files
            .iter()
            .map(|file| file.len().div_ceil(1 << 20))
            .sum::<usize>();
        links.push(owner.send_files(&files, 100, None).await?);
    }
    opens_with_identical_bytes(&relay.url, &links[0]).await?;
    let (status, _) = relay.terminate(Duration::from_secs(20))?;
    anyhow::ensure!(status.success(), "the relay stopped with {status}");
    assert_eq!(chunk_files_in(data.path()).len(), chunks);

    // Killed as soon as the first chunk reached the bucket.
    let mut first = migrate(data.path(), &env, "s3").spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while s3::objects(&blobs).await?.is_empty() {
        anyhow::ensure!(Instant::now() < deadline, "no chunk reached the bucket");
        if first.try_wait()?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = first.try_wait()?.is_none();
    first.kill()?;
    first.wait()?;
    let moved_before = s3::objects(&blobs).await?.len();
    eprintln!("migration killed: {killed}, with {moved_before} of {chunks} chunks in the bucket");
    if killed {
        // Half moved: neither configuration starts on it, and both say how to go on.
        let error = relay::Store::open_with(data.path(), &blobs)
            .expect_err("a half-moved data directory does not serve");
        assert!(format!("{error:#}").contains("did not finish"), "{error:#}");
        let error = relay::Store::open(data.path()).expect_err("nor with files");
        assert!(
            format!("{error:#}").contains("migrate --to s3"),
            "{error:#}"
        );
    }

    let printed = migrate_to_the_end(data.path(), &env, "s3")?;
    assert!(
        printed.contains("Set [blobs] backend = \"s3\""),
        "{printed}"
    );
    assert_eq!(s3::objects(&blobs).await?.len(), chunks);
    assert_eq!(chunk_files_in(data.path()), Vec::<String>::new());
    // Running it again finds nothing to do.
    assert!(migrate_to_the_end(data.path(), &env, "s3")?.contains("nothing to move"));

    let relay = serve(data.path(), &env, "s3")?;
    for link in &links {
        opens_with_identical_bytes(&relay.url, link).await?;
    }
    let (status, _) = relay.terminate(Duration::from_secs(20))?;
    anyhow::ensure!(status.success(), "the relay stopped with {status}");
    // The files configuration is refused now.
    let refused = serve(data.path(), &env, "files");
    anyhow::ensure!(
        refused.is_err(),
        "a relay served files while the chunks are in the bucket"
    );

    // And back.
    let printed = migrate_to_the_end(data.path(), &env, "files")?;
    assert!(printed.contains(&format!("{chunks} chunks")), "{printed}");
    assert_eq!(s3::objects(&blobs).await?, Vec::<String>::new());
    assert_eq!(chunk_files_in(data.path()).len(), chunks);
    let relay = serve(data.path(), &env, "files")?;
    for link in &links {
        opens_with_identical_bytes(&relay.url, link).await?;
    }
    let (status, _) = relay.terminate(Duration::from_secs(20))?;
    anyhow::ensure!(status.success(), "the relay stopped with {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_that_does_not_answer_is_a_503_in_seconds_and_nothing_is_acknowledged()
-> anyhow::Result<()> {
    let mut blobs = s3::bucket()?;
    // A port nothing listens on (bound, then closed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    blobs.s3.endpoint = format!("http://{closed}");
    let relay = TestRelay::start_with(move |config| config.blobs = blobs).await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "away-firm").await?;
    let started = Instant::now();
    let refused = owner
        .send_files(&[bytes_with("away", 100)], 1, None)
        .await
        .expect_err("no chunk is acknowledged without the bucket");
    let printed = format!("{refused:#}");
    assert!(
        printed.contains("503") && printed.contains("storage_unavailable"),
        "{printed}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    relay.stop().await
}

#[test]
fn the_bucket_settings_are_checked_before_a_start() {
    let mut blobs = s3::bucket().expect("the test bucket");
    blobs.s3.allow_http = false;
    let error = blobs.s3.check().expect_err("plain http needs allow_http");
    assert!(error.contains("allow_http"), "{error}");
    blobs.s3.allow_http = true;
    blobs.s3.bucket = String::new();
    assert!(
        blobs
            .s3
            .check()
            .expect_err("a bucket is needed")
            .contains("bucket")
    );
    blobs.s3.bucket = s3::BUCKET.to_owned();
    blobs.s3.prefix = "a/../b".to_owned();
    assert!(blobs.s3.check().is_err());
}
