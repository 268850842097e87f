//! The receive measurement of issue 14 (run it with `.ci/bench-receive`): one file of `--mib`
//! MiB (default 1024) sent natively to the release relay binary (its own process), then, in
//! Chromium, Firefox and WebKit one after the other, received as a recipient does (OTP, "Save",
//! streamed to the downloads through the download worker, until the receipt), next to the same
//! browser GETting the same sealed chunks without crypto (the transport ceiling) and raw
//! SubtleCrypto AES-GCM decryption in the same run, with the browser's memory growth. Numbers
//! go in issue notes, not in assertions; the run fails only if a saved file differs.

use anyhow::Context as _;
use tests::native::NativeClient;
use tests::{Browser, Engine, RelayProcess};

const MIB: u64 = 1024 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib = tests::measure::mib_argument(1024)?;
    let size = mib * MIB;
    let engines = Engine::selected(&[Engine::Chromium, Engine::Firefox, Engine::WebKit]);
    let data_dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(data_dir.path(), &[])?;
    let owner = NativeClient::verified_owner(&relay.url, data_dir.path(), "bench").await?;
    let mut bytes = vec![0_u8; usize::try_from(size)?];
    rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut bytes);
    let started = std::time::Instant::now();
    let sent = owner
        .send_files(&[bytes], 2 * u32::try_from(engines.len())?, None)
        .await?;
    eprintln!("sent natively in {:.1} s", started.elapsed().as_secs_f64());
    let link = format!(
        "{}/l/{}#{}",
        relay.url,
        sent.id,
        sent.secret.to_fragment().as_str()
    );
    let chunks = shared::crypto::stream::StreamLayout::for_size(size)?.chunk_count();
    let mut rows = Vec::new();
    let mut intact = true;
    for engine in engines {
        let browser = Browser::of(engine).await?;
        let page = browser.session().await?;
        let run = tests::measure::receive_one_file(
            &page,
            &link,
            &sent.otp,
            size,
            std::time::Duration::from_secs(1800),
        )
        .await
        .with_context(|| format!("receiving in {}", engine.name()))?;
        let same = tests::measure::same_bytes(&run.saved, &sent.plaintexts[0])?;
        intact &= same;
        std::fs::remove_file(&run.saved)?;
        let token = owner.download_token(&sent, &sent.otp).await?;
        let ceiling =
            tests::measure::transport_get(&page, &sent.id.to_string(), &token, chunks).await?;
        let (_, raw_decrypt) = tests::measure::raw_subtle(&page).await?;
        rows.push((engine, run, ceiling, raw_decrypt, same));
    }
    println!(
        "Receive, {mib} MiB, one file, release relay as its own process, saved through the download worker"
    );
    println!(
        "  engine     download+decrypt  transport GET  share  raw decrypt  memory growth (before-click processes / all)  WASM  file"
    );
    for (engine, run, ceiling, raw, same) in &rows {
        let speed = run.mib_per_second(size);
        println!(
            "  {:<9} {:>10.1} MiB/s  {:>8.1} MiB/s  {:>4.0} %  {:>7.1} MiB/s  {:>6} / {} MiB  {:>4} MiB  {}",
            engine.name(),
            speed,
            ceiling,
            100.0 * speed / ceiling,
            raw,
            run.peak_growth_of_existing / MIB,
            run.peak_growth / MIB,
            run.wasm_memory / MIB,
            if *same { "identical" } else { "DIFFERENT" },
        );
    }
    anyhow::ensure!(intact, "a saved file differs from what was sent");
    Ok(())
}
