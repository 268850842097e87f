//! Measuring a real browser while it receives a large Secure Send: the time from "Save" to the
//! receipt, and the memory of every process of that browser (its driver, the browser's own
//! processes and, for WebKit, the virtual display), sampled from `/proc` every 50 ms. The
//! growth of that sum over the run is an upper bound of what the page itself (JS heap and
//! WASM) grew by, in every engine, whatever each engine would report. Used by the end-to-end
//! test of a large receive; it asserts nothing itself. `E2E_MEMORY_TRACE=1` prints every
//! process's memory twice a second (resident MiB, then anonymous/file-backed/shared).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::Session;
use crate::flows::{open_with, use_downloads};

/// Runs `job(0..count)` with `width` jobs at a time (as the browser keeps six chunk requests in
/// flight); how long it all took. The first error stops it.
pub async fn in_flight<F, Fut>(count: usize, width: usize, job: F) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..width {
        let (job, next) = (job.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return anyhow::Ok(());
                }
                job(index).await?;
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(started.elapsed())
}

/// Reserves a send of one file of `size` bytes and uploads its sealed-size chunks (random
/// bytes: the relay checks lengths, not ciphertext), `width` in flight as the browser sends
/// them; the send's id and how long the chunk uploads took.
pub async fn upload_random_chunks(
    owner: &crate::native::NativeClient,
    size: u64,
    width: usize,
) -> anyhow::Result<(shared::ids::Id, Duration)> {
    let created: shared::wire::CreateSendResponse = owner.reserve_send(vec![size]).await?.ok()?;
    let layout = shared::crypto::StreamLayout::for_size(size)?;
    let mut body = vec![0_u8; shared::crypto::CHUNK_SIZE + 16];
    rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut body);
    let body = Arc::new(body);
    let (owner, id) = (owner.clone(), created.id);
    let took = in_flight(layout.chunk_count() as usize, width, move |chunk| {
        let (owner, body) = (owner.clone(), body.clone());
        async move {
            let chunk = u32::try_from(chunk)?;
            let len = layout.sealed_len(chunk);
            let answer = crate::native::send(
                owner
                    .raw(
                        reqwest::Method::PUT,
                        &format!("/api/sends/{id}/files/0/chunks/{chunk}"),
                    )
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body[..len].to_vec()),
            )
            .await?;
            if answer.status != 204 {
                bail!("chunk {chunk}: HTTP {} {}", answer.status, answer.body);
            }
            Ok(())
        }
    })
    .await?;
    Ok((id, took))
}

/// The number after `--mib` on the command line, or `default` (the benchmarks' file size).
pub fn mib_argument(default: u64) -> anyhow::Result<u64> {
    Ok(std::env::args()
        .skip_while(|arg| arg != "--mib")
        .nth(1)
        .map(|text| text.parse())
        .transpose()
        .context("--mib takes a number")?
        .unwrap_or(default))
}

/// What one receive took.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// From the click on "Save" to the page's "delivered".
    pub elapsed: Duration,
    /// Resident memory of the browser's processes before the click.
    pub baseline: u64,
    /// The highest sum seen during the run, minus the baseline.
    pub peak_growth: u64,
    /// The same for the processes that ran before the click only (the page's, the browser's,
    /// the download worker's), leaving out those the browser started meanwhile (Firefox keeps a
    /// spare content process ready, and starts a new one when a download takes one).
    pub peak_growth_of_existing: u64,
    /// The page's WASM memory at the end (it never shrinks: this is its peak).
    pub wasm_memory: u64,
    /// The saved file.
    pub saved: PathBuf,
    /// The processes that grew the most by the peak: `(command, growth in bytes)`.
    pub growers: Vec<(String, i64)>,
}

impl Receipt {
    pub fn mib_per_second(&self, bytes: u64) -> f64 {
        bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }
}

/// Opens `link` with `otp` in `page`, saves its single file of `size` bytes to the downloads
/// and waits (up to `limit`) for the receipt and the finished file.
pub async fn receive_one_file(
    page: &Session,
    link: &str,
    otp: &str,
    size: u64,
    limit: Duration,
) -> anyhow::Result<Receipt> {
    open_with(page, link, otp).await?;
    page.find("[data-testid=opened]").await?;
    use_downloads(page).await?;
    // Let the page settle (fonts, the opening's garbage) before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = per_process(&page.processes());
    let baseline: u64 = before.values().map(|(_, rss)| rss).sum();
    let peak = Arc::new(AtomicU64::new(baseline));
    let peak_existing = Arc::new(AtomicU64::new(baseline));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let peak = peak.clone();
        let peak_existing = peak_existing.clone();
        let existing: Vec<i32> = before.keys().copied().collect();
        let running = running.clone();
        let root = page.processes().first().copied().unwrap_or(0);
        tokio::task::spawn_blocking(move || {
            let mut at_peak = std::collections::HashMap::new();
            let trace = std::env::var_os("E2E_MEMORY_TRACE").is_some();
            let mut tick = 0_u32;
            while running.load(Ordering::Relaxed) {
                tick += 1;
                if trace && tick.is_multiple_of(10) {
                    let now = per_process(&crate::browser::descendants(root));
                    let mut list: Vec<String> = now
                        .iter()
                        .map(|(pid, (command, rss))| {
                            format!("{command}={}[{}]", rss >> 20, kinds(*pid))
                        })
                        .collect();
                    list.sort();
                    eprintln!("memory (MiB): {}", list.join(" "));
                }
                // New processes count too (a service worker's, a download's).
                let now = per_process(&crate::browser::descendants(root));
                let sum: u64 = now.values().map(|(_, rss)| rss).sum();
                let of_existing: u64 = existing
                    .iter()
                    .filter_map(|pid| now.get(pid))
                    .map(|(_, rss)| rss)
                    .sum();
                peak_existing.fetch_max(of_existing, Ordering::Relaxed);
                if sum > peak.fetch_max(sum, Ordering::Relaxed) {
                    at_peak = now;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            at_peak
        })
    };
    let started = Instant::now();
    page.click("[data-testid=save-all]").await?;
    let outcome = wait_for_delivery(page, limit).await;
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let at_peak = sampler.await?;
    outcome?;
    let mut growers: Vec<(String, i64)> = at_peak
        .iter()
        .map(|(pid, (command, rss))| {
            let was = before.get(pid).map_or(0, |(_, rss)| *rss);
            (format!("{pid} {command}"), *rss as i64 - was as i64)
        })
        .collect();
    growers.sort_by_key(|(_, growth)| -growth);
    growers.truncate(4);
    let wasm_memory = page
        .eval("return globalThis.sealpostWasmMemory.buffer.byteLength;")
        .await?
        .as_u64()
        .context("the page's WASM memory")?;
    let saved = wait_for_file_of(page.downloads(), size, Duration::from_secs(60)).await?;
    Ok(Receipt {
        elapsed,
        baseline,
        peak_growth: peak.load(Ordering::Relaxed).saturating_sub(baseline),
        peak_growth_of_existing: peak_existing
            .load(Ordering::Relaxed)
            .saturating_sub(baseline),
        wasm_memory,
        saved,
        growers,
    })
}

/// Raw SubtleCrypto AES-256-GCM on 256 calls of 1 MiB each, in the page: `(encrypt, decrypt)`
/// in MiB/s.
pub async fn raw_subtle(page: &Session) -> anyhow::Result<(f64, f64)> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
            const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
            const chunk = new Uint8Array(1 << 20);
            crypto.getRandomValues(chunk.subarray(0, 65536));
            const iv = new Uint8Array(12);
            const n = 256;
            let start = performance.now();
            let sealed;
            for (let i = 0; i < n; i++) { iv[11] = i & 255; sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk); }
            const encrypt = n / ((performance.now() - start) / 1000);
            start = performance.now();
            for (let i = 0; i < n; i++) { await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed); }
            const decrypt = n / ((performance.now() - start) / 1000);
            done([encrypt, decrypt]);
        })().catch((error) => done(String(error)));
    "#;
    let answer = page.client.execute_async(script, Vec::new()).await?;
    let pair = answer.as_array().with_context(|| format!("{answer}"))?;
    let number = |index: usize| {
        pair.get(index)
            .and_then(serde_json::Value::as_f64)
            .context("a number")
    };
    Ok((number(0)?, number(1)?))
}

/// The transport alone, in `page`: every sealed chunk of file 0 of link `id` GET with the
/// download `token`, four in flight as the app fetches them, read and dropped (no crypto, no
/// disk); MiB/s of ciphertext.
pub async fn transport_get(
    page: &Session,
    id: &str,
    token: &str,
    chunks: u32,
) -> anyhow::Result<f64> {
    let script = r#"
        const [id, token, chunks, done] = arguments;
        (async () => {
            let bytes = 0;
            const get = async (i) => {
                const answer = await fetch(`/api/links/${id}/files/0/chunks/${i}`, {
                    headers: { Authorization: `Bearer ${token}` },
                    cache: 'no-store',
                });
                if (!answer.ok) { throw new Error(`GET chunk ${i}: ${answer.status}`); }
                bytes += (await answer.arrayBuffer()).byteLength;
            };
            const start = performance.now();
            const inflight = [];
            for (let i = 0; i < chunks; i++) {
                inflight.push(get(i));
                if (inflight.length >= 4) { await inflight.shift(); }
            }
            await Promise.all(inflight);
            done(bytes / 1048576 / ((performance.now() - start) / 1000));
        })().catch((error) => done(String(error)));
    "#;
    let answer = page
        .client
        .execute_async(
            script,
            vec![
                serde_json::json!(id),
                serde_json::json!(token),
                serde_json::json!(chunks),
            ],
        )
        .await?;
    answer.as_f64().with_context(|| format!("{answer}"))
}

/// Whether the file at `path` holds exactly `expected`, compared block by block.
pub fn same_bytes(path: &Path, expected: &[u8]) -> anyhow::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.len() != expected.len() as u64 {
        return Ok(false);
    }
    let mut block = vec![0_u8; 8 * 1024 * 1024];
    let mut offset = 0;
    loop {
        let read = file.read(&mut block)?;
        if read == 0 {
            return Ok(offset == expected.len());
        }
        if block[..read] != expected[offset..offset + read] {
            return Ok(false);
        }
        offset += read;
    }
}

/// Command name and resident bytes of each of `pids` still running.
fn per_process(pids: &[i32]) -> std::collections::HashMap<i32, (String, u64)> {
    pids.iter()
        .filter_map(|pid| {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            // Chromium names every process "chromium": its role is in `--type=` (none for the
            // browser process itself), in a command line it rewrites with spaces between the
            // arguments.
            let role = std::fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .and_then(|line| {
                    String::from_utf8_lossy(&line)
                        .split(['\0', ' '])
                        .find_map(|arg| arg.strip_prefix("--type=").map(str::to_owned))
                })
                .map_or_else(String::new, |role| format!(" ({role})"));
            Some((
                *pid,
                (format!("{}{role}", command.trim()), resident_bytes(&[*pid])),
            ))
        })
        .collect()
}

/// The resident memory of `pid` by kind, in MiB: anonymous, file-backed, shared.
fn kinds(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    ["RssAnon:", "RssFile:", "RssShmem:"]
        .iter()
        .map(|key| {
            status
                .lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .map_or_else(|| "?".to_owned(), |kib| (kib >> 10).to_string())
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The sum of the resident memory of `pids` (those still running), in bytes.
pub fn resident_bytes(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024)
        .sum()
}

async fn wait_for_delivery(page: &Session, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let state = page
            .eval(
                "const done = document.querySelector('[data-testid=delivered]'); \
                 const error = document.querySelector('[data-testid=receive-error]'); \
                 return done ? 'delivered' : (error ? error.innerText : null);",
            )
            .await?;
        match state.as_str() {
            Some("delivered") => return Ok(()),
            Some(error) => bail!("the page failed: {error}"),
            None if Instant::now() > deadline => bail!("no receipt within {limit:?}"),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The one file in `folder` that reached `size` bytes and stopped growing.
async fn wait_for_file_of(folder: &Path, size: u64, limit: Duration) -> anyhow::Result<PathBuf> {
    let deadline = Instant::now() + limit;
    loop {
        let found = std::fs::read_dir(folder)?
            .filter_map(Result::ok)
            .filter(|entry| !crate::browser::is_partial(&entry.path()))
            .find(|entry| entry.metadata().is_ok_and(|meta| meta.len() == size))
            .map(|entry| entry.path());
        if let Some(path) = found {
            return Ok(path);
        }
        if Instant::now() > deadline {
            bail!("no file of {size} bytes in {}", folder.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
