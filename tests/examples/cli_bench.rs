//! Command-line figures (run it with `.ci/bench-cli`; it is not a test): the release `sealpost`
//! binary sends and opens one file of `--mib` MiB (default 1024) through the release relay on
//! loopback, against
//! - the native STREAM speed of `shared` on this machine (AES-256-GCM chunk by chunk, the
//!   work the command line does per byte, with no I/O), and
//! - `curl` uploading the same number of sealed chunks of the same sizes to the same API
//!   (four in flight, as the command line keeps them), i.e. the transport without encryption;
//!
//! and each command's peak resident memory (`VmHWM`, sampled until it exits), which must stay
//! flat in the file's size. The file opened is compared with the file sent (SHA-256).

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::Digest as _;
use shared::crypto::{BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, NoncePrefix, OsRng};
use shared::wire;
use tests::RelayProcess;
use tests::native::NativeClient;

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

/// Runs `command` to its end, sampling its peak resident memory; the time, the peak in KiB and
/// its standard output.
fn timed(command: &mut std::process::Command) -> anyhow::Result<(Duration, u64, String)> {
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0_u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|line| line.starts_with("VmHWM:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kib);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "{:?} failed: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((elapsed, peak, String::from_utf8(output.stdout)?))
}

fn sha256_of(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().to_vec())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib = usize::try_from(tests::measure::mib_argument(1024)?)?;
    let size = (mib * CHUNK_SIZE) as u64;
    let cli = tests::cli::cli_binary()?;
    let data = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let relay = RelayProcess::start(data.path(), &[])?;
    let owner = NativeClient::verified_owner(&relay.url, data.path(), "bench").await?;
    let key = owner
        .make_api_key(
            "bench",
            &[wire::ApiScope::SendsWrite, wire::ApiScope::SendsRead],
        )
        .await?;

    // The file: pseudo-random bytes, written once.
    let file = work.path().join("big.bin");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut block = vec![0_u8; CHUNK_SIZE];
        for _ in 0..mib {
            for word in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            out.write_all(&block)?;
        }
        out.flush()?;
    }

    // Native STREAM, no I/O: the per-byte work of the command line.
    let file_key = BundleKey::generate(&mut OsRng).file_key(0);
    let prefix = NoncePrefix::generate(&mut OsRng);
    let chunk = vec![0x5a_u8; CHUNK_SIZE];
    let mut encryptor = ChunkEncryptor::new(&file_key, &prefix, size)?;
    let mut decryptor = ChunkDecryptor::new(&file_key, &prefix, size)?;
    let (mut encrypting, mut decrypting) = (Duration::ZERO, Duration::ZERO);
    while !encryptor.is_finished() {
        let started = Instant::now();
        let sealed = encryptor.encrypt_next(&chunk)?;
        encrypting += started.elapsed();
        let started = Instant::now();
        std::hint::black_box(decryptor.decrypt_next(&sealed)?);
        decrypting += started.elapsed();
    }
    decryptor.finish()?;
    println!(
        "native STREAM ({mib} MiB, no I/O): encrypt {:.0} MiB/s, decrypt {:.0} MiB/s",
        mib_per_s(size, encrypting),
        mib_per_s(size, decrypting)
    );

    // curl: the same sealed chunk sizes PUT to a reserved send, four in flight.
    let reserved: wire::CreateSendResponse = NativeClient::anonymous(&relay.url)
        .post_with(
            "/api/sends",
            &wire::CreateSendRequest {
                files: vec![shared::crypto::padded_size(size)],
                expires_in_seconds: 3_600,
                max_opens: 1,
                recipient_email: None,
                invoice: None,
            },
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await?
        .ok()?;
    let layout = shared::crypto::StreamLayout::for_size(shared::crypto::padded_size(size))?;
    let mut config = String::new();
    let mut sealed_bytes = 0_u64;
    for index in 0..layout.chunk_count() {
        let length = layout.sealed_len(index);
        let body = work.path().join(format!("sealed-{length}.bin"));
        if !body.exists() {
            std::fs::write(&body, vec![0xa5_u8; length])?;
        }
        sealed_bytes += length as u64;
        config.push_str(&format!(
            "url = \"{}/api/sends/{}/files/0/chunks/{index}\"\nupload-file = \"{}\"\noutput = \"/dev/null\"\n",
            relay.url,
            reserved.id,
            body.display()
        ));
    }
    let config_path = work.path().join("curl.cfg");
    std::fs::write(&config_path, config)?;
    let (curl_time, _, _) = timed(
        std::process::Command::new("curl")
            .args(["-sS", "--fail", "--parallel", "--parallel-max", "4", "-K"])
            .arg(&config_path)
            .args(["-H", &format!("Authorization: Bearer {key}")])
            .args(["-H", "Content-Type: application/octet-stream"]),
    )?;
    println!(
        "curl PUT of the same {} sealed chunks ({:.0} MiB, 4 in flight): {:.1} s, {:.0} MiB/s",
        layout.chunk_count(),
        sealed_bytes as f64 / 1048576.0,
        curl_time.as_secs_f64(),
        mib_per_s(sealed_bytes, curl_time)
    );

    // The command line: send, then open, of a small file and of the big one, so the peaks
    // show whether memory grows with the file.
    let small = work.path().join("small.bin");
    std::fs::write(&small, vec![0x42_u8; 16 * CHUNK_SIZE])?;
    let otp = work.path().join("otp");
    std::fs::write(&otp, "bench-one-time-password\n")?;
    let home = work.path().join("home");
    let cli_command = || {
        let mut command = std::process::Command::new(&cli);
        command
            .env("SEALPOST_CONFIG", home.join("config.json"))
            .env("SEALPOST_URL", &relay.url)
            .env("SEALPOST_API_KEY", &key);
        command
    };
    for (label, path, bytes) in [
        ("16 MiB", &small, 16 * CHUNK_SIZE as u64),
        (&*format!("{mib} MiB"), &file, size),
    ] {
        let (send_time, send_peak, printed) = timed(
            cli_command()
                .args(["--json", "send", "--otp-file"])
                .arg(&otp)
                .arg(path),
        )?;
        let answer: serde_json::Value = serde_json::from_str(&printed)?;
        let link = answer["link"].as_str().context("a link")?;
        println!(
            "sealpost send {label}: {:.1} s, {:.0} MiB/s (argon2id included), peak RSS {:.1} MiB",
            send_time.as_secs_f64(),
            mib_per_s(bytes, send_time),
            send_peak as f64 / 1024.0
        );
        let out = work.path().join(format!("opened-{bytes}"));
        let (open_time, open_peak, _) = timed(
            cli_command()
                .args(["--json", "open", link, "--otp-file"])
                .arg(&otp)
                .arg("--out")
                .arg(&out),
        )?;
        println!(
            "sealpost open {label}: {:.1} s, {:.0} MiB/s (argon2id and fsync included), peak RSS {:.1} MiB",
            open_time.as_secs_f64(),
            mib_per_s(bytes, open_time),
            open_peak as f64 / 1024.0
        );
        let name = path.file_name().context("a name")?;
        anyhow::ensure!(
            sha256_of(&out.join(name))? == sha256_of(path)?,
            "the opened file differs from the sent one"
        );
    }
    println!("every opened file is the sent file (SHA-256)");
    Ok(())
}
