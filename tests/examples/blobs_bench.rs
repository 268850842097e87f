//! Chunk transport through the relay on each chunk backend (run it with `.ci/bench-blobs`; it
//! is not a test). For the files backend and for an S3-compatible bucket (`TEST_S3_ENDPOINT`,
//! moto as `.ci/test` runs it), the relay binary runs as its own process on loopback and this
//! client moves `--mib` MiB (default 1024) through it as 1 MiB sealed chunks, six in flight as
//! the browser sends them:
//! - upload: `PUT /api/sends/{id}/files/0/chunks/{n}` (random bytes: the relay checks lengths);
//! - download: `GET /api/links/{id}/files/0/chunks/{n}` with a download token, of a real link;
//!
//! and the same bytes go straight to the same store without the relay: `curl` (six in flight,
//! signed with `--aws-sigv4`) PUTs and GETs 1 MiB objects in the bucket; for the files backend,
//! `dd` writes them into the data directory (`oflag=dsync`: each 1 MiB durable before the next,
//! as the relay makes each chunk durable before it answers) and `cat` reads them back.
//! Every figure is MiB/s over wall time; the relay's peak resident memory is printed too.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shared::crypto::{CHUNK_SIZE, StreamLayout};
use tests::native::{NativeClient, OtpFixture};
use tests::{RelayProcess, s3};

const MIB: u64 = 1024 * 1024;
const IN_FLIGHT: usize = 6;

fn rate(mib: u64, took: Duration) -> String {
    format!(
        "{:.2} s = {:.1} MiB/s",
        took.as_secs_f64(),
        mib as f64 / took.as_secs_f64()
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib = tests::measure::mib_argument(1024)?;
    let binary = tests::relay_binary()?;
    println!(
        "relay {}; {mib} MiB each way, 1 MiB chunks, {IN_FLIGHT} in flight",
        binary.display()
    );

    // The files backend.
    let data = tempfile::tempdir_in(std::env::current_dir()?)?;
    let (up, down, peak) = through_relay(&binary, data.path(), &[], mib).await?;
    println!("files  relay upload   {}", rate(mib, up));
    println!("files  relay download {}", rate(mib, down));
    println!("files  relay peak RSS {} MiB", peak / MIB);
    let folder = data.path().join("bench-direct");
    std::fs::create_dir_all(&folder)?;
    let took = timed(Command::new("bash").arg("-c").arg(format!(
        "for i in $(seq 1 {mib}); do dd if=/dev/urandom of={dir}/$i bs=1M count=1 oflag=dsync status=none; done",
        dir = folder.display()
    )))?;
    println!(
        "files  dd write (1 MiB files, oflag=dsync) {}",
        rate(mib, took)
    );
    let took = timed(
        Command::new("bash")
            .arg("-c")
            .arg(format!("cat {}/* > /dev/null", folder.display())),
    )?;
    println!("files  cat read (page cache) {}", rate(mib, took));
    drop(data);

    // The bucket.
    let blobs = s3::bucket()?;
    let mut env: Vec<(&str, String)> = s3::environment(&blobs);
    env.push(("SEALPOST_BLOBS__BACKEND", "s3".to_owned()));
    let data = tempfile::tempdir_in(std::env::current_dir()?)?;
    let (up, down, peak) = through_relay(&binary, data.path(), &env, mib).await?;
    println!("s3     relay upload   {}", rate(mib, up));
    println!("s3     relay download {}", rate(mib, down));
    println!("s3     relay peak RSS {} MiB", peak / MIB);
    let chunk = data.path().join("chunk.bin");
    let mut body = vec![0_u8; CHUNK_SIZE + 16];
    rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut body);
    std::fs::write(&chunk, &body)?;
    let base = format!(
        "{}/{}/{}/curl",
        blobs.s3.endpoint, blobs.s3.bucket, blobs.s3.prefix
    );
    let mut put = curl(&blobs);
    for index in 0..mib {
        put.arg("-T").arg(&chunk).arg(format!("{base}/{index}"));
    }
    println!(
        "s3     curl PUT (1 MiB objects) {}",
        rate(mib, timed(&mut put)?)
    );
    let mut get = curl(&blobs);
    for index in 0..mib {
        get.arg("-o")
            .arg("/dev/null")
            .arg(format!("{base}/{index}"));
    }
    println!(
        "s3     curl GET (1 MiB objects) {}",
        rate(mib, timed(&mut get)?)
    );
    Ok(())
}

/// `curl` with six transfers in flight, signing as an S3 client does.
fn curl(blobs: &relay::config::BlobsConfig) -> Command {
    let mut command = Command::new("curl");
    command
        .args(["--no-progress-meter", "--fail", "--parallel"])
        .args(["--parallel-max", &IN_FLIGHT.to_string()])
        .args(["--aws-sigv4", &format!("aws:amz:{}:s3", blobs.s3.region)])
        .arg("--user")
        .arg(format!(
            "{}:{}",
            blobs.s3.access_key_id,
            blobs.s3.secret_access_key.dangerously_expose()
        ));
    command
}

fn timed(command: &mut Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = command.status().context("while running a command")?;
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok(started.elapsed())
}

/// Upload and download times of `mib` MiB through the relay binary on `data_dir`, and its peak
/// resident memory.
async fn through_relay(
    binary: &Path,
    data_dir: &Path,
    env: &[(&str, String)],
    mib: u64,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let relay = RelayProcess::start_binary(binary, data_dir, &env)?;
    let owner = NativeClient::verified_owner(&relay.url, data_dir, "bench").await?;
    let size = mib * MIB;

    // Upload: chunks of a reserved send, as the browser PUTs them after encrypting.
    let (_, up) = tests::measure::upload_random_chunks(&owner, size, IN_FLIGHT).await?;
    let chunks = StreamLayout::for_size(size)?.chunk_count() as usize;

    // Download: a real link of the same size (encrypted here, not timed), its chunks fetched
    // with the download token and not decrypted (the transport, as the upload above).
    let otp = OtpFixture::new("bench-otp-123")?;
    let plaintext = vec![7_u8; usize::try_from(size)?];
    let link = owner
        .send_files_with_otp(&[plaintext], 1, None, &otp)
        .await?;
    let anyone = NativeClient::anonymous(&relay.url);
    let token = Arc::new(anyone.download_token(&link, &otp.otp).await?);
    let client = reqwest::Client::new();
    let (url, id) = (relay.url.clone(), link.id);
    let down = tests::measure::in_flight(chunks, IN_FLIGHT, move |chunk| {
        let (client, token, url) = (client.clone(), token.clone(), url.clone());
        async move {
            let response = client
                .get(format!("{url}/api/links/{id}/files/0/chunks/{chunk}"))
                .bearer_auth(token.as_str())
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 200,
                "chunk {chunk}: {}",
                response.status()
            );
            let bytes = response.bytes().await?;
            anyhow::ensure!(bytes.len() >= CHUNK_SIZE / 2 || chunk + 1 == chunks);
            Ok(())
        }
    })
    .await?;
    let peak = relay.peak_rss()?;
    relay.terminate(Duration::from_secs(30))?;
    Ok((up, down, peak))
}
