//! The relay's load measurement (run it with `.ci/bench-load`; it is not a test): the relay
//! binary as its own process on loopback, driven by this load generator with many requests in
//! flight. It prints
//! - link facts (`GET /api/links/{id}`) per second, with p50/p99 latency;
//! - correct openings of one-time links (key release) per second, with p50/p99 latency;
//! - 1,000 simultaneous openings of one one-time link, and how many won (must be one);
//! - chunk upload MiB/s (1 MiB chunks, six in flight, as the browser sends them) beside `dd`
//!   writing the same number of bytes into the same data directory, with `conv=fsync` (one
//!   fsync at the end) and `oflag=dsync` (every 1 MiB block durable before the next);
//! - the relay's peak resident memory.
//!
//! `--relay-bin PATH` (default `RELAY_BIN`, else `target/release/sealpost-relay`) lets one run
//! compare two builds; `--links N`, `--concurrency C`, `--seconds S` and `--mib M` size it;
//! `--relay-env KEY=VALUE` sets the relay's configuration (the race needs 1,000 connections
//! from one address: `SEALPOST_SERVER__MAX_CONNECTIONS_PER_ADDRESS=2000`).
//! Numbers go in issue notes; the run fails only if the race has other than one winner.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tests::RelayProcess;
use tests::native::{NativeClient, OtpFixture, SentLink};

const MIB: u64 = 1024 * 1024;

struct Options {
    binary: PathBuf,
    /// `SEALPOST_*` settings for the relay (`--relay-env KEY=VALUE`, repeatable).
    env: Vec<(String, String)>,
    links: usize,
    concurrency: usize,
    seconds: u64,
    mib: u64,
}

fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|index| args.get(index + 1))
            .cloned()
    };
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        value(name).map_or(Ok(default), |text| {
            text.parse()
                .with_context(|| format!("{name} takes a number"))
        })
    };
    let binary = match value("--relay-bin") {
        Some(path) => PathBuf::from(path),
        None => tests::relay_binary()?,
    };
    let env = args
        .windows(2)
        .filter(|pair| pair[0] == "--relay-env")
        .filter_map(|pair| pair[1].split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    Ok(Options {
        binary,
        env,
        links: usize::try_from(number("--links", 4000)?)?,
        concurrency: usize::try_from(number("--concurrency", 64)?)?,
        seconds: number("--seconds", 5)?,
        mib: number("--mib", 256)?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let data_dir = tempfile::tempdir_in(std::env::current_dir()?)?;
    let env: Vec<(&str, &str)> = options
        .env
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let relay = RelayProcess::start_binary(&options.binary, data_dir.path(), &env)?;
    println!(
        "relay {} on {} (data in {})",
        options.binary.display(),
        relay.url,
        data_dir.path().display()
    );
    let owner = NativeClient::verified_owner(&relay.url, data_dir.path(), "bench").await?;
    let otp = Arc::new(OtpFixture::new("bench-otp-123")?);

    let started = Instant::now();
    let links = Arc::new(make_links(&owner, &otp, options.links, 16).await?);
    println!(
        "set up {} one-time links in {:.1} s",
        links.len(),
        started.elapsed().as_secs_f64()
    );

    let anyone = NativeClient::anonymous(&relay.url);
    let facts = facts_load(&anyone, &links, options.concurrency, options.seconds).await?;
    facts.print("link facts (GET /api/links/{id})");

    let opens = open_load(&anyone, &links, &otp, options.concurrency).await?;
    opens.print("key release (correct opening of a one-time link)");

    let race = owner
        .send_files_with_otp(&[b"race".to_vec()], 1, None, &otp)
        .await?;
    let winners = open_race(&anyone, &race, &otp, 1000).await?;
    println!(
        "race: 1000 simultaneous openings of one one-time link: {} won, {} refused",
        winners.0, winners.1
    );

    let upload = upload_load(&owner, options.mib).await?;
    println!(
        "chunk upload: {} MiB in {:.2} s = {:.1} MiB/s (1 MiB chunks, 6 in flight)",
        options.mib,
        upload.as_secs_f64(),
        options.mib as f64 / upload.as_secs_f64()
    );
    for flags in ["conv=fsync", "oflag=dsync"] {
        let took = dd(data_dir.path(), options.mib, flags)?;
        println!(
            "dd bs=1M count={} {flags} into the data directory: {:.2} s = {:.1} MiB/s",
            options.mib,
            took.as_secs_f64(),
            options.mib as f64 / took.as_secs_f64()
        );
    }
    println!(
        "relay peak RSS: {:.1} MiB",
        relay.peak_rss()? as f64 / MIB as f64
    );
    relay.terminate(Duration::from_secs(60))?;
    if winners.0 != 1 {
        bail!("{} openings of a one-time link won", winners.0);
    }
    Ok(())
}

/// Latencies and outcomes of one phase.
struct Phase {
    elapsed: Duration,
    latencies: Vec<Duration>,
    ok: usize,
    failed: usize,
}

impl Phase {
    fn print(&self, what: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |fraction: f64| {
            let index =
                ((sorted.len() as f64 * fraction) as usize).min(sorted.len().saturating_sub(1));
            sorted.get(index).copied().unwrap_or_default()
        };
        println!(
            "{what}: {} ok, {} failed in {:.2} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.ok as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            sorted.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        );
    }
}

async fn make_links(
    owner: &NativeClient,
    otp: &Arc<OtpFixture>,
    count: usize,
    workers: usize,
) -> anyhow::Result<Vec<SentLink>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (owner, otp, next) = (owner.clone(), otp.clone(), next.clone());
        tasks.spawn(async move {
            let mut made = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                made.push(
                    owner
                        .send_files_with_otp(&[b"x".to_vec()], 1, None, &otp)
                        .await?,
                );
            }
            anyhow::Ok(made)
        });
    }
    let mut links = Vec::new();
    while let Some(made) = tasks.join_next().await {
        links.extend(made??);
    }
    Ok(links)
}

async fn facts_load(
    anyone: &NativeClient,
    links: &Arc<Vec<SentLink>>,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Phase> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (anyone, links, next) = (anyone.clone(), links.clone(), next.clone());
        tasks.spawn(async move {
            let (mut latencies, mut ok, mut failed) = (Vec::new(), 0, 0);
            while Instant::now() < deadline {
                let link = &links[next.fetch_add(1, Ordering::Relaxed) % links.len()];
                let sent = Instant::now();
                let answer = anyone.get(&format!("/api/links/{}", link.id)).await?;
                latencies.push(sent.elapsed());
                if answer.status == 200 {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((latencies, ok, failed))
        });
    }
    collect(tasks, started).await
}

async fn open_load(
    anyone: &NativeClient,
    links: &Arc<Vec<SentLink>>,
    otp: &Arc<OtpFixture>,
    concurrency: usize,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (anyone, links, next, otp) = (anyone.clone(), links.clone(), next.clone(), otp.clone());
        tasks.spawn(async move {
            let (mut latencies, mut ok, mut failed) = (Vec::new(), 0, 0);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(link) = links.get(index) else {
                    break;
                };
                let sent = Instant::now();
                let answer = anyone.open_with_otp(link, &otp, false).await?;
                latencies.push(sent.elapsed());
                if answer.status == 200 {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((latencies, ok, failed))
        });
    }
    collect(tasks, started).await
}

async fn collect(
    mut tasks: tokio::task::JoinSet<anyhow::Result<(Vec<Duration>, usize, usize)>>,
    started: Instant,
) -> anyhow::Result<Phase> {
    let mut phase = Phase {
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        ok: 0,
        failed: 0,
    };
    while let Some(result) = tasks.join_next().await {
        let (latencies, ok, failed) = result??;
        phase.latencies.extend(latencies);
        phase.ok += ok;
        phase.failed += failed;
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

/// `racers` openings of one link, all started before any is answered; (won, refused).
async fn open_race(
    anyone: &NativeClient,
    link: &SentLink,
    otp: &Arc<OtpFixture>,
    racers: usize,
) -> anyhow::Result<(usize, usize)> {
    let link = Arc::new(SentLink {
        id: link.id,
        secret: shared::crypto::LinkSecret::dangerously_from_bytes(
            *link.secret.dangerously_expose_bytes(),
        ),
        otp: link.otp.clone(),
        plaintexts: Vec::new(),
    });
    let start = Arc::new(tokio::sync::Barrier::new(racers));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..racers {
        let (anyone, link, otp, start) = (
            NativeClient::anonymous(&anyone.base),
            link.clone(),
            otp.clone(),
            start.clone(),
        );
        tasks.spawn(async move {
            start.wait().await;
            anyone.open_with_otp(&link, &otp, false).await
        });
    }
    let (mut won, mut refused) = (0, 0);
    while let Some(answer) = tasks.join_next().await {
        if answer??.status == 200 {
            won += 1;
        } else {
            refused += 1;
        }
    }
    Ok((won, refused))
}

/// Uploads one file of `mib` MiB as sealed-size chunks (random bytes: the relay checks
/// lengths, not ciphertext), six in flight; how long the chunk uploads took.
async fn upload_load(owner: &NativeClient, mib: u64) -> anyhow::Result<Duration> {
    Ok(tests::measure::upload_random_chunks(owner, mib * MIB, 6)
        .await?
        .1)
}

/// `dd if=/dev/zero of=<dir>/dd.bin bs=1M count=<mib> <flags>`; how long it took.
fn dd(dir: &std::path::Path, mib: u64, flags: &str) -> anyhow::Result<Duration> {
    let target = dir.join("dd.bin");
    let started = Instant::now();
    let status = std::process::Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .arg("bs=1M")
        .arg(format!("count={mib}"))
        .arg(flags)
        .stderr(std::process::Stdio::null())
        .status()
        .context("while running dd")?;
    let took = started.elapsed();
    std::fs::remove_file(&target)?;
    anyhow::ensure!(status.success(), "dd failed: {status}");
    Ok(took)
}
