//! Self-hosting figures (run it with `.ci/bench-ops`; it is not a test). The release relay
//! binary runs as its own process on loopback, on a data directory this bench fills through
//! the API with `--mib` MiB (default 1024) twice over: the chunks of an upload left unfinished
//! and a finished link of the same size (so the data directory holds about 2 × `--mib` MiB of
//! ciphertext). Then:
//! - **TLS against plain HTTP:** `curl` downloads every chunk of the link (six in flight, with
//!   its download token, to /dev/null) from the relay serving plain HTTP, then from the same
//!   relay restarted with `[tls]` (a certificate made here with `openssl`), then plain again
//!   from a relay just started; with the relay's CPU seconds for each (curl shares the two
//!   cores, and over TLS it is the slower end) and the TLS connections curl made;
//! - **backup and restore against `cp -a`:** `admin backup` through the running relay's admin
//!   socket, `admin backup verify`, `admin restore` into a new folder (relay stopped), and
//!   `cp -a` of the data directory, each over the data directory's bytes.
//!
//! Every figure is MiB/s over wall time on this machine's disk with a warm page cache.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tests::RelayProcess;
use tests::native::{NativeClient, OtpFixture};

const MIB: u64 = 1024 * 1024;
const IN_FLIGHT: usize = 6;
const HOST: &str = "relay.test";

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:.2} s = {:.1} MiB/s",
        took.as_secs_f64(),
        bytes as f64 / MIB as f64 / took.as_secs_f64()
    )
}

fn timed(command: &mut Command) -> anyhow::Result<Duration> {
    Ok(timed_output(command)?.0)
}

/// How long `command` took, and what it printed.
fn timed_output(command: &mut Command) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let output = command.output().context("while running a command")?;
    anyhow::ensure!(
        output.status.success(),
        "{command:?} failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// CPU seconds (user + system) process `pid` has used so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("a stat line")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn bytes_under(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += bytes_under(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib = tests::measure::mib_argument(1024)?;
    let binary = tests::relay_binary()?;
    let work = tempfile::tempdir_in(std::env::current_dir()?)?;
    let data = work.path().join("data");
    println!(
        "relay {}; {mib} MiB unfinished + {mib} MiB link, 1 MiB chunks, {IN_FLIGHT} in flight",
        binary.display()
    );

    let relay = RelayProcess::start_binary(&binary, &data, &[])?;
    let owner = NativeClient::verified_owner(&relay.url, &data, "bench").await?;
    let size = mib * MIB;
    let chunks = shared::crypto::StreamLayout::for_size(size)?.chunk_count() as usize;
    tests::measure::upload_random_chunks(&owner, size, IN_FLIGHT).await?;
    let otp = OtpFixture::new("bench-otp-123")?;
    let link = owner
        .send_files_with_otp(&[vec![7_u8; usize::try_from(size)?]], 1, None, &otp)
        .await?;
    let token = NativeClient::anonymous(&relay.url)
        .download_token(&link, &otp.otp)
        .await?;
    let paths: Vec<String> = (0..chunks)
        .map(|chunk| format!("/api/links/{}/files/0/chunks/{chunk}", link.id))
        .collect();
    let before = cpu_seconds(relay.pid())?;
    let plain = timed(&mut curl(&relay.url, &token, &paths, &[]))?;
    let plain_cpu = cpu_seconds(relay.pid())? - before;
    relay.terminate(Duration::from_secs(30))?;

    let cert = work.path().join("cert.pem");
    let key = work.path().join("key.pem");
    timed(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", &format!("/CN={HOST}")])
            .args(["-addext", &format!("subjectAltName=DNS:{HOST}")])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    )?;
    let tls_env = [
        ("SEALPOST_TLS__CERT_FILE", cert.to_str().context("UTF-8")?),
        ("SEALPOST_TLS__KEY_FILE", key.to_str().context("UTF-8")?),
    ];
    let relay = RelayProcess::start_binary(&binary, &data, &tls_env)?;
    let port = relay
        .address
        .rsplit(':')
        .next()
        .context("a port")?
        .to_owned();
    let resolve = format!("{HOST}:{port}:127.0.0.1");
    let cert_text = cert.to_str().context("UTF-8")?;
    let before = cpu_seconds(relay.pid())?;
    let (tls, connects) = timed_output(&mut curl(
        &format!("https://{HOST}:{port}"),
        &token,
        &paths,
        &[
            "--cacert",
            cert_text,
            "--resolve",
            &resolve,
            "-w",
            "%{num_connects}\\n",
        ],
    ))?;
    let connects: u64 = connects
        .lines()
        .filter_map(|line| line.trim().parse::<u64>().ok())
        .sum();
    let tls_cpu = cpu_seconds(relay.pid())? - before;
    println!("TLS connections made  {connects}");
    let link_bytes = size + 16 * chunks as u64;
    println!(
        "download, plain HTTP  {} (relay CPU {plain_cpu:.2} s)",
        rate(link_bytes, plain)
    );
    println!(
        "download, TLS (1.3)   {} (relay CPU {tls_cpu:.2} s)",
        rate(link_bytes, tls)
    );
    relay.terminate(Duration::from_secs(30))?;
    // Plain again from a relay just started, as the TLS one was.
    let relay = RelayProcess::start_binary(&binary, &data, &[])?;
    let again = timed(&mut curl(&relay.url, &token, &paths, &[]))?;
    println!("download, plain again {}", rate(link_bytes, again));

    let stored = bytes_under(&data)?;
    println!("data directory        {} MiB", stored / MIB);
    let archive = work.path().join("backup.tar");
    let admin = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.arg("--data-dir").arg(&data).arg("admin").args(args);
        command
    };
    let archive_text = archive.to_str().context("UTF-8")?;
    let (backup, said) = timed_output(&mut admin(&["backup", archive_text]))?;
    let paused = said
        .split("changes waited ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .unwrap_or("?");
    println!(
        "backup (online)       {} ({} MiB archive; changes waited {paused} ms)",
        rate(stored, backup),
        std::fs::metadata(&archive)?.len() / MIB
    );
    let verify = timed(&mut admin(&["backup", "verify", archive_text]))?;
    println!("backup verify         {}", rate(stored, verify));
    relay.terminate(Duration::from_secs(30))?;
    let restored = work.path().join("restored");
    let restore = timed(
        Command::new(&binary)
            .arg("--data-dir")
            .arg(&restored)
            .args(["admin", "restore", archive_text]),
    )?;
    println!("restore               {}", rate(stored, restore));
    let copy = timed(
        Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(work.path().join("copy")),
    )?;
    println!("cp -a                 {}", rate(stored, copy));
    let synced = timed(Command::new("bash").arg("-c").arg(format!(
        "cp -a {} {} && sync -f {}",
        data.display(),
        work.path().join("copy-synced").display(),
        work.path().display()
    )))?;
    println!("cp -a && sync         {}", rate(stored, synced));
    Ok(())
}

/// `curl` fetching every path from `base` with the token, six in flight, bodies discarded.
fn curl(base: &str, token: &str, paths: &[String], extra: &[&str]) -> Command {
    let mut command = Command::new("curl");
    command
        .args(["--no-progress-meter", "--fail", "--parallel"])
        .args(["--parallel-max", &IN_FLIGHT.to_string()])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(extra);
    for path in paths {
        command
            .args(["-o", "/dev/null"])
            .arg(format!("{base}{path}"));
    }
    command
}
