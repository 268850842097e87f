//! The Secure Send measurement of issue 5 (run it with `.ci/bench-send`): one file of
//! `--mib` MiB (default 1024) sent from one headless Chromium and received in another, through
//! the release relay binary running as its own process. Prints encrypt+upload and
//! download+decrypt speed next to raw SubtleCrypto AES-GCM measured in the same browser in the
//! same run, the pages' WASM memory after each side finished (memory only grows, so this is
//! the peak), and the relay's peak resident memory (VmHWM). Numbers go in issue notes, not in
//! assertions; the run fails only if the received file differs. Next to each upload and
//! ceiling, the cores the machine and the relay kept busy: on a two-core machine with the
//! relay beside the browser, both are CPU-bound. Then the same upload in Firefox and WebKit
//! (`E2E_ENGINES` picks), each against its own transport ceiling.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::Locator;
use tests::{Browser, Session};

const MIB: u64 = 1024 * 1024;

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib = tests::measure::mib_argument(1024)?;
    let binary = std::env::var("BENCH_RELAY_BIN")
        .unwrap_or_else(|_| "target/release/sealpost-relay".to_owned());
    let data_dir = tempfile::tempdir()?;
    // BENCH_RELAY_CPUS (e.g. `1`) pins the relay to those cores, as a relay on its own machine
    // would run; run the bench itself under `taskset -c 0` to give the browser the others.
    let mut command = match std::env::var("BENCH_RELAY_CPUS") {
        Ok(cpus) => {
            let mut pinned = Command::new("taskset");
            pinned.args(["-c", &cpus, &binary]);
            pinned
        }
        Err(_) => Command::new(&binary),
    };
    let mut child = Relay(
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("SEALPOST_LOG__FORMAT", "json")
            .env("SEALPOST_LOG__FILTER", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!("while starting {binary} (build it with cargo build --release -p relay)")
            })?,
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().context("relay stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().context("the relay printed nothing")??;
    let url = first
        .split(['"', ' '])
        .find(|word| word.starts_with("http://"))
        .context("the relay announces its URL")?
        .to_owned();
    // Keep reading its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let folder = tempfile::tempdir()?;
    let path = folder.path().join(format!("bench-{mib}MiB.bin"));
    write_random_file(&path, mib)?;
    let size = mib * MIB;

    let browser = Browser::start().await?;
    let sender = browser.session().await?;
    tests::verified_sender(&sender, &url, data_dir.path(), "bench").await?;
    sender.goto(&format!("{url}/app/send")).await?;
    sender
        .find("input[name=files]")
        .await?
        .send_keys(&path.display().to_string())
        .await?;
    sender.replace("input[name=otp]", "bench-otp-123").await?;
    // Every chunk's PUT in the page's resource timing (the default buffer keeps 250 entries).
    let clicked = sender
        .eval("performance.setResourceTimingBufferSize(100000); return performance.now();")
        .await?
        .as_f64()
        .context("a time")?;
    let started = Instant::now();
    let ticks = Ticks::now(pid)?;
    let watch = MemoryWatch::start();
    sender.click("form button[type=submit]").await?;
    let link = wait_for_value(&sender, "[data-testid=link]", Duration::from_secs(1800)).await?;
    let upload = started.elapsed();
    let upload_memory = watch.peak_growth();
    let upload_busy = ticks.busy_until(&Ticks::now(pid)?);
    let stages = app_stages(&sender, clicked).await?;
    let sender_wasm = wasm_memory(&sender).await?;
    // The stages apart after the app's upload, so that the upload runs in a fresh page (as a
    // user's does) and not after six passes over the file.
    let phases = phases(&sender, &path).await?;
    eprintln!("uploaded in {:.1} s", upload.as_secs_f64());

    let recipient = browser.session().await?;
    recipient.goto(&link).await?;
    recipient.find("[data-testid=link-facts]").await?;
    recipient.fill("input[name=otp]", "bench-otp-123").await?;
    recipient.click("form button[type=submit]").await?;
    recipient.find("[data-testid=opened]").await?;
    recipient
        .eval("const box = document.querySelector('input[name=to-disk]'); if (box && box.checked) { box.click(); } return null;")
        .await?;
    let started = Instant::now();
    recipient.click("[data-testid=save-all]").await?;
    wait_for(
        &recipient,
        "[data-testid=delivered]",
        Duration::from_secs(1800),
    )
    .await?;
    let download = started.elapsed();
    let recipient_wasm = wasm_memory(&recipient).await?;
    eprintln!("decrypted in {:.1} s", download.as_secs_f64());
    let received = match wait_for_download(&recipient, size).await {
        Ok(saved) => match files_equal(&path, &saved)? {
            true => Ok("identical"),
            false => Err("DIFFERENT".to_owned()),
        },
        Err(error) => {
            let logs = recipient.console_errors().await?;
            Err(format!(
                "not saved by the browser: {error}; console: {logs:?}"
            ))
        }
    };
    let (raw_encrypt, raw_decrypt) = tests::measure::raw_subtle(&recipient).await?;
    let chunk_count = u32::try_from(mib)?;
    // The ceilings in a fresh page of their own too, as the app's upload ran.
    let fresh = browser.session().await?;
    tests::verified_sender(&fresh, &url, data_dir.path(), "ceiling").await?;
    let (put_ceiling, put_busy) = transport_busy(&fresh, 256, false, false, pid).await?;
    let (array_ceiling, array_busy) = transport_busy(&fresh, chunk_count, true, false, pid).await?;
    let (blob_ceiling, blob_busy) = transport_busy(&fresh, chunk_count, true, true, pid).await?;
    let distinct_ceiling = array_ceiling.max(blob_ceiling);
    let rss = peak_rss_kib(pid)?;

    let mib_f = mib as f64;
    println!(
        "Secure Send, {mib} MiB, one file, headless Chromium, relay as its own release process"
    );
    println!(
        "  encrypt + upload     {:8.1} MiB/s  ({:.1} s, incl. sealing the link)",
        mib_f / upload.as_secs_f64(),
        upload.as_secs_f64()
    );
    println!(
        "  download + decrypt   {:8.1} MiB/s  ({:.1} s, until the receipt)",
        mib_f / download.as_secs_f64(),
        download.as_secs_f64()
    );
    println!(
        "  raw SubtleCrypto     {raw_encrypt:8.1} MiB/s encrypt, {raw_decrypt:.1} MiB/s decrypt (1 MiB calls, same browser, same run)"
    );
    println!(
        "  share of raw         {:8.0} % upload side, {:.0} % download side (goal >= 50 %)",
        100.0 * mib_f / upload.as_secs_f64() / raw_encrypt,
        100.0 * mib_f / download.as_secs_f64() / raw_decrypt
    );
    println!(
        "  WASM memory          {:8.1} MiB sender, {:.1} MiB recipient (goal < 64 MiB)",
        sender_wasm as f64 / MIB as f64,
        recipient_wasm as f64 / MIB as f64
    );
    println!(
        "  relay peak RSS       {:8.1} MiB (VmHWM; goal < 128 MiB)",
        rss as f64 / 1024.0
    );
    println!(
        "  HTTP alone           {put_ceiling:8.1} MiB/s PUT of 1 MiB chunks to the relay, six in flight (no crypto, no file reads), 256 to one chunk; {put_busy}"
    );
    println!(
        "  HTTP alone, distinct {array_ceiling:8.1} MiB/s the same, {chunk_count} PUTs each to its own chunk (the bytes and files of the upload); {array_busy}"
    );
    println!(
        "  the same, Blob bodies{blob_ceiling:8.1} MiB/s each body a Blob of the array (the app sends the array); {blob_busy}"
    );
    println!(
        "  the app's upload       {:.2} s before the first chunk, {:.2} s of chunks ({:.1} MiB/s = {:.0} % of the first, {:.0} % of the better distinct one), {:.2} s after the last; {upload_busy}",
        stages[0],
        stages[1],
        mib_f / stages[1],
        100.0 * mib_f / stages[1] / put_ceiling,
        100.0 * mib_f / stages[1] / distinct_ceiling,
        upload.as_secs_f64() - stages[0] - stages[1],
    );
    println!(
        "  memory in use        {upload_memory:8.1} MiB more at most during the upload (the machine's, page cache not counted)"
    );
    println!("  where the upload's time goes, the same file in the sender's page (MiB/s of file):");
    for (name, speed) in phases {
        println!("    {name:<60} {speed:8.1}");
    }
    // The upload in the other engines, each in its own browser after Chromium is done.
    let mut rows = Vec::new();
    for engine in tests::Engine::selected(&[tests::Engine::Firefox, tests::Engine::WebKit]) {
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        let handle = format!("bench-{}", engine.name().to_lowercase());
        tests::verified_sender(&page, &url, data_dir.path(), &handle).await?;
        page.goto(&format!("{url}/app/send")).await?;
        page.find("input[name=files]")
            .await?
            .send_keys(&path.display().to_string())
            .await?;
        page.replace("input[name=otp]", "bench-otp-123").await?;
        let clicked = page
            .eval("performance.setResourceTimingBufferSize(100000); return performance.now();")
            .await?
            .as_f64()
            .context("a time")?;
        let started = Instant::now();
        let watch = MemoryWatch::start();
        page.click("form button[type=submit]").await?;
        wait_for_value(&page, "[data-testid=link]", Duration::from_secs(1800))
            .await
            .with_context(|| format!("uploading in {}", engine.name()))?;
        let whole = started.elapsed().as_secs_f64();
        let memory = watch.peak_growth();
        let [_, chunks] = app_stages(&page, clicked).await?;
        let (raw, _) = tests::measure::raw_subtle(&page).await?;
        let ceiling = transport(&page, chunk_count, true, false)
            .await?
            .max(transport(&page, chunk_count, true, true).await?);
        rows.push((
            engine.name(),
            mib_f / whole,
            mib_f / chunks,
            ceiling,
            raw,
            memory,
        ));
    }
    if !rows.is_empty() {
        println!("  the upload in the other engines (MiB/s):");
        println!(
            "    engine    encrypt+upload  its chunks  HTTP alone (distinct, better body)  chunks / HTTP  raw encrypt  memory growth, MiB"
        );
        for (engine, whole, chunks, ceiling, raw, memory) in rows {
            println!(
                "    {engine:<9} {whole:14.1} {chunks:11.1} {ceiling:35.1} {:13.0} % {raw:11.1} {memory:18.0}",
                100.0 * chunks / ceiling
            );
        }
    }
    match received {
        Ok(words) => {
            println!("  received file        {words}");
            Ok(())
        }
        Err(problem) => {
            println!("  received file        {problem}");
            bail!("the received file was not saved intact")
        }
    }
}

fn write_random_file(path: &std::path::Path, mib: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = vec![0_u8; MIB as usize];
    for _ in 0..mib {
        rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut block);
        file.write_all(&block)?;
    }
    file.flush()?;
    Ok(())
}

async fn wait_for(page: &Session, css: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while page.client.find(Locator::Css(css)).await.is_err() {
        if Instant::now() > deadline {
            let body = page.eval("return document.body.innerText;").await?;
            bail!("`{css}` did not appear; the page shows {body}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn wait_for_value(page: &Session, css: &str, limit: Duration) -> anyhow::Result<String> {
    wait_for(page, css, limit).await?;
    page.find(css)
        .await?
        .prop("value")
        .await?
        .context("a value")
}

async fn wasm_memory(page: &Session) -> anyhow::Result<u64> {
    let bytes = page
        .eval("return globalThis.sealpostWasmMemory ? globalThis.sealpostWasmMemory.buffer.byteLength : -1;")
        .await?;
    bytes.as_u64().context("the page exposes its WASM memory")
}

async fn wait_for_download(page: &Session, size: u64) -> anyhow::Result<std::path::PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        for entry in std::fs::read_dir(page.downloads())?.flatten() {
            let path = entry.path();
            let done = path.extension().is_none_or(|ext| ext != "crdownload");
            if done && entry.metadata()?.len() == size {
                return Ok(path);
            }
        }
        if Instant::now() > deadline {
            bail!("the download did not finish");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn files_equal(a: &std::path::Path, b: &std::path::Path) -> anyhow::Result<bool> {
    let (mut a, mut b) = (
        BufReader::new(std::fs::File::open(a)?),
        BufReader::new(std::fs::File::open(b)?),
    );
    let (mut left, mut right) = (vec![0_u8; MIB as usize], vec![0_u8; MIB as usize]);
    loop {
        let n = a.read(&mut left)?;
        let m = b.read(&mut right[..n.max(1)])?;
        if n == 0 {
            return Ok(m == 0);
        }
        if n != m {
            // Short reads differ between files; compare the exact bytes read so far.
            b.read_exact(&mut right[m..n])?;
        }
        if left[..n] != right[..n] {
            return Ok(false);
        }
    }
}

/// The app's upload in its page's resource timing: seconds from the click to the first chunk's
/// PUT, and from there to the last chunk's answer.
async fn app_stages(page: &Session, clicked: f64) -> anyhow::Result<[f64; 2]> {
    let answer = page
        .eval(&format!(
            "const puts = performance.getEntriesByType('resource')
                 .filter((entry) => entry.name.includes('/chunks/') && entry.startTime >= {clicked});
             return [Math.min(...puts.map((entry) => entry.startTime)),
                     Math.max(...puts.map((entry) => entry.responseEnd)), puts.length];"
        ))
        .await?;
    let number = |index: usize| answer[index].as_f64().context("a number");
    anyhow::ensure!(
        number(2)? > 0.0,
        "no chunk PUT in the resource timing: {answer}"
    );
    Ok([
        (number(0)? - clicked) / 1000.0,
        (number(1)? - number(0)?) / 1000.0,
    ])
}

/// The upload's stages apart, in the sender's page after the app sent the file: file reads in
/// 1 MiB slices (as the app read until issue 15), in 8 MiB slices (as it reads now) and as a
/// stream; reads with WebCrypto encryption, one or two chunks at a time; and that with the PUTs
/// too (six in flight, all to one reserved chunk; the array or a `Blob` as the body), all in
/// plain JavaScript, so what the app adds on top (its WASM, its progress line) shows against the
/// app's own figure.
async fn phases(page: &Session, path: &std::path::Path) -> anyhow::Result<Vec<(String, f64)>> {
    // The app's picker keeps its files to itself: a file input of the bench's own.
    page.eval(
        "const input = document.createElement('input');
         input.type = 'file';
         input.id = 'bench-file';
         document.body.append(input);
         return null;",
    )
    .await?;
    page.find("#bench-file")
        .await?
        .send_keys(&path.display().to_string())
        .await?;
    // Six passes over the file take longer than the session's usual script timeout.
    page.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(600)),
            None,
            None,
        ))
        .await?;
    let script = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
            const file = document.querySelector('#bench-file').files[0];
            const CHUNK = 1048560;
            const mib = file.size / 1048576;
            const slices = (size) => {
                const out = [];
                for (let start = 0; start < file.size; start += size) {
                    out.push([start, Math.min(start + size, file.size)]);
                }
                return out;
            };
            const timed = async (run) => {
                const start = performance.now();
                await run();
                return mib / ((performance.now() - start) / 1000);
            };
            // Reads `size` slices with `ahead` in flight, handing each to `use` in order.
            const reads = (size, ahead, use) => async () => {
                const queue = [];
                for (const [start, end] of slices(size)) {
                    queue.push(file.slice(start, end).arrayBuffer());
                    if (queue.length >= ahead) { await use(await queue.shift()); }
                }
                while (queue.length) { await use(await queue.shift()); }
            };
            const results = [];
            results.push(['reads, 1 MiB slices, 3 ahead', await timed(reads(CHUNK, 3, async () => {}))]);
            results.push(['reads, 8 MiB slices, 2 ahead (as the app)', await timed(reads(8 * CHUNK, 2, async () => {}))]);
            results.push(['reads, File.stream()', await timed(async () => {
                const reader = file.stream().getReader();
                for (;;) { const { done } = await reader.read(); if (done) { break; } }
            })]);
            const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt']);
            const iv = new Uint8Array(12);
            let counter = 0;
            const seal = (plain) => {
                iv[11] = counter++ & 255;
                return crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain);
            };
            results.push(['8 MiB reads + encryption, one chunk at a time (as the app)', await timed(reads(8 * CHUNK, 2, async (buffer) => {
                for (let at = 0; at < buffer.byteLength; at += CHUNK) {
                    await seal(new Uint8Array(buffer, at, Math.min(CHUNK, buffer.byteLength - at)));
                }
            }))]);
            results.push(['8 MiB reads + encryption, two chunks at a time', await timed(reads(8 * CHUNK, 2, async (buffer) => {
                const sealing = [];
                for (let at = 0; at < buffer.byteLength; at += CHUNK) {
                    sealing.push(seal(new Uint8Array(buffer, at, Math.min(CHUNK, buffer.byteLength - at))));
                    if (sealing.length >= 2) { await sealing.shift(); }
                }
                await Promise.all(sealing);
            }))]);
            const state = await (await fetch('/api/session')).json();
            const csrf = state.session.csrf_token;
            const created = await fetch('/api/sends', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
                body: JSON.stringify({ files: [CHUNK], expires_in_seconds: 3600, max_opens: 1 }),
            });
            const id = (await created.json()).id;
            const put = (body) => fetch(`/api/sends/${id}/files/0/chunks/0`, {
                method: 'PUT',
                headers: { 'Content-Type': 'application/octet-stream', 'X-CSRF-Token': csrf },
                body,
            }).then((r) => { if (!r.ok) { throw new Error('PUT ' + r.status); } });
            const pipeline = (size) => async () => {
                const uploads = [];
                await reads(size, size === CHUNK ? 3 : 2, async (buffer) => {
                    for (let at = 0; at < buffer.byteLength; at += CHUNK) {
                        let plain = new Uint8Array(buffer, at, Math.min(CHUNK, buffer.byteLength - at));
                        if (plain.length < CHUNK) { const padded = new Uint8Array(CHUNK); padded.set(plain); plain = padded; }
                        uploads.push(put(await seal(plain)));
                        while (uploads.length >= 6) { await uploads.shift(); }
                    }
                })();
                await Promise.all(uploads);
            };
            results.push(['1 MiB reads + encryption + PUT, in JavaScript', await timed(pipeline(CHUNK))]);
            results.push(['the same with 8 MiB reads (as the app)', await timed(pipeline(8 * CHUNK))]);
            const putBlob = (body) => put(new Blob([body]));
            results.push(['the same, each PUT body a Blob of the sealed chunk', await timed(async () => {
                const uploads = [];
                await reads(8 * CHUNK, 2, async (buffer) => {
                    for (let at = 0; at < buffer.byteLength; at += CHUNK) {
                        let plain = new Uint8Array(buffer, at, Math.min(CHUNK, buffer.byteLength - at));
                        if (plain.length < CHUNK) { const padded = new Uint8Array(CHUNK); padded.set(plain); plain = padded; }
                        uploads.push(putBlob(await seal(plain)));
                        while (uploads.length >= 6) { await uploads.shift(); }
                    }
                })();
                await Promise.all(uploads);
            })]);
            results.push(['8 MiB reads + two encryptions at a time + PUT', await timed(async () => {
                const uploads = [];
                const sealing = [];
                await reads(8 * CHUNK, 2, async (buffer) => {
                    for (let at = 0; at < buffer.byteLength; at += CHUNK) {
                        let plain = new Uint8Array(buffer, at, Math.min(CHUNK, buffer.byteLength - at));
                        if (plain.length < CHUNK) { const padded = new Uint8Array(CHUNK); padded.set(plain); plain = padded; }
                        sealing.push(seal(plain));
                        if (sealing.length >= 2) {
                            uploads.push(put(await sealing.shift()));
                            while (uploads.length >= 6) { await uploads.shift(); }
                        }
                    }
                })();
                for (const sealed of sealing) { uploads.push(put(await sealed)); }
                await Promise.all(uploads);
            })]);
            document.querySelector('#bench-file').remove();
            done(results);
        })().catch((error) => done(String(error)));
    "#;
    let answer = page.client.execute_async(script, Vec::new()).await?;
    let rows = answer.as_array().with_context(|| format!("{answer}"))?;
    rows.iter()
        .map(|row| {
            let name = row[0].as_str().context("a name")?.to_owned();
            let speed = row[1].as_f64().context("a speed")?;
            Ok((name, speed))
        })
        .collect()
}

/// The transport alone, from the sender's page, six PUTs in flight as the app sends (no crypto,
/// no file reads): `chunks` PUTs of one 1 MiB sealed chunk, all to chunk 0 of a one-chunk send
/// (`distinct` false, the ceiling earlier notes used), or each to its own chunk of a send of
/// `chunks` chunks (`distinct`: the relay stores as many bytes in as many files as the app's
/// upload). Each body is the array itself (as the app sends it), or (`blob`) a `Blob` made of
/// it.
async fn transport(page: &Session, chunks: u32, distinct: bool, blob: bool) -> anyhow::Result<f64> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        const [n, distinct, blob] = [arguments[0], arguments[1], arguments[2]];
        (async () => {
            const state = await (await fetch('/api/session')).json();
            const csrf = state.session.csrf_token;
            const created = await fetch('/api/sends', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
                // A chunk carries 1 MiB of the file and seals to 16 bytes more; a one-chunk
                // send's single chunk is the whole (shorter) file.
                body: JSON.stringify({ files: [distinct ? 1048576 * n : 1048560], expires_in_seconds: 3600, max_opens: 1 }),
            });
            const id = (await created.json()).id;
            const body = new Uint8Array(distinct ? 1048592 : 1048576);
            let start = performance.now();
            let inflight = [];
            for (let i = 0; i < n; i++) {
                inflight.push(fetch(`/api/sends/${id}/files/0/chunks/${distinct ? i : 0}`, {
                    method: 'PUT',
                    headers: { 'Content-Type': 'application/octet-stream', 'X-CSRF-Token': csrf },
                    body: blob ? new Blob([body]) : body,
                }).then((r) => { if (!r.ok) throw new Error('PUT ' + r.status); }));
                if (inflight.length >= 6) { await inflight.shift(); }
            }
            await Promise.all(inflight);
            const put = n / ((performance.now() - start) / 1000);
            done(put);
        })().catch((error) => done(String(error)));
    "#;
    let answer = page
        .client
        .execute_async(script, vec![chunks.into(), distinct.into(), blob.into()])
        .await?;
    answer.as_f64().with_context(|| format!("{answer}"))
}

/// The machine's busy and total CPU time so far (`/proc/stat`, clock ticks over all cores).
fn cpu_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .context("/proc/stat is empty")?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let total: u64 = fields.iter().take(8).sum();
    // idle and iowait are the time no core had work.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// The machine's memory in use (`MemTotal` less `MemAvailable`: what the page cache could not
/// give back), in bytes.
fn memory_in_use() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    field("MemTotal:").saturating_sub(field("MemAvailable:"))
}

/// Samples `memory_in_use` every 100 ms from its start until `peak_growth` is asked.
struct MemoryWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
    start: u64,
}

impl MemoryWatch {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let start = memory_in_use();
        let stopping = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = memory_in_use();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory_in_use());
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Self {
            stop,
            sampler,
            start,
        }
    }

    /// The most the machine's memory in use grew over the start, in MiB.
    fn peak_growth(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = self.sampler.join().unwrap_or(self.start);
        peak.saturating_sub(self.start) as f64 / MIB as f64
    }
}

/// A process's CPU time so far (user and system, clock ticks).
fn process_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command's closing parenthesis; utime and stime are the 14th and
    // 15th of the whole line.
    let rest = stat
        .rsplit_once(')')
        .context("/proc/pid/stat has a command")?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |index: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(index)
            .context("a /proc/pid/stat field")?
            .parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// CPU ticks of every Chromium process by its role: `browser`, `renderer`, `gpu-process`, and
/// utility processes by their service (`network.mojom.NetworkService`, ...).
fn chromium_ticks() -> std::collections::BTreeMap<String, u64> {
    let mut roles = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return roles;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !comm.trim().starts_with("chromium") {
            continue;
        }
        // Chromium rewrites its command line with spaces between the arguments.
        let line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let line = String::from_utf8_lossy(&line);
        let argument = |name: &str| {
            line.split(['\0', ' '])
                .find_map(|arg| arg.strip_prefix(name).map(str::to_owned))
        };
        let role = argument("--utility-sub-type=")
            .or_else(|| argument("--type="))
            .unwrap_or_else(|| "browser".to_owned());
        if let Ok(ticks) = process_ticks(pid) {
            *roles.entry(role).or_default() += ticks;
        }
    }
    roles
}

/// The machine's CPU, the relay's and Chromium's by role, read together.
#[derive(Clone)]
struct Ticks {
    machine: (u64, u64),
    relay: u64,
    chromium: std::collections::BTreeMap<String, u64>,
}

impl Ticks {
    fn now(relay: u32) -> anyhow::Result<Self> {
        Ok(Self {
            machine: cpu_ticks()?,
            relay: process_ticks(relay)?,
            chromium: chromium_ticks(),
        })
    }

    /// Cores kept busy since `self` (`now` taken later): all, the relay's and Chromium's roles'.
    fn busy_until(&self, now: &Self) -> Busy {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let total = (now.machine.1 - self.machine.1).max(1) as f64;
        // /proc/stat sums every core's ticks; a process's ticks are of one clock.
        let wall = total / cores;
        Busy {
            all: cores * (now.machine.0 - self.machine.0) as f64 / total,
            relay: (now.relay - self.relay) as f64 / wall,
            chromium: now
                .chromium
                .iter()
                .map(|(role, ticks)| {
                    let before = self.chromium.get(role).copied().unwrap_or(0);
                    (role.clone(), ticks.saturating_sub(before) as f64 / wall)
                })
                .filter(|(_, busy)| *busy >= 0.02)
                .collect(),
        }
    }
}

struct Busy {
    all: f64,
    relay: f64,
    chromium: Vec<(String, f64)>,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} cores busy ({:.2} the relay's",
            self.all, self.relay
        )?;
        for (role, busy) in &self.chromium {
            let role = role.rsplit('.').next().unwrap_or(role);
            write!(f, ", {busy:.2} {role}")?;
        }
        write!(f, ")")
    }
}

/// `transport` with the cores it kept busy.
async fn transport_busy(
    page: &Session,
    chunks: u32,
    distinct: bool,
    blob: bool,
    relay: u32,
) -> anyhow::Result<(f64, Busy)> {
    let before = Ticks::now(relay)?;
    let speed = transport(page, chunks, distinct, blob).await?;
    Ok((speed, before.busy_until(&Ticks::now(relay)?)))
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("VmHWM in /proc/<pid>/status")
}
