//! Automation figures (run it with `.ci/bench-api`; it is not a test). The release relay binary
//! runs as its own process on loopback, with webhooks allowed to loopback:
//! - **API key against session:** `--requests` (default 4000) `GET /api/sends` with eight in
//!   flight, once with the owner's session cookie and once with an API key, as requests per
//!   second (the key's look-up by hash and its scope check against the session's look-up and
//!   CSRF-free GET; the key's rate limit is lifted for it);
//! - **webhooks:** `--events` (default 300) links are opened, each a `link.opened` event for
//!   an endpoint on a local receiver; the time from the last opening until the receiver has
//!   every call (the worker looks every 2 s, so this includes up to 2 s of waiting), and the
//!   calls per second once they flow.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shared::wire;
use tests::RelayProcess;
use tests::native::{NativeClient, OtpFixture};

fn argument(name: &str, default: usize) -> anyhow::Result<usize> {
    let arguments: Vec<String> = std::env::args().collect();
    match arguments.iter().position(|argument| argument == name) {
        Some(at) => arguments
            .get(at + 1)
            .context("a number after the flag")?
            .parse()
            .context("a number"),
        None => Ok(default),
    }
}

/// `requests` GETs of `path` with eight in flight, each given `credentials`; requests/s.
async fn rate(
    url: &str,
    requests: usize,
    credentials: &[(&'static str, String)],
) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let (client, next, url) = (client.clone(), next.clone(), format!("{url}/api/sends"));
        let credentials = credentials.to_vec();
        calls.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let mut request = client.get(&url);
                for (name, value) in &credentials {
                    request = request.header(*name, value);
                }
                let answer = request.send().await?;
                anyhow::ensure!(answer.status() == 200, "{}", answer.status());
                answer.bytes().await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = calls.join_next().await {
        done??;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let requests = argument("--requests", 4000)?;
    let events = argument("--events", 300)?;
    let data = tempfile::tempdir()?;
    let relay = RelayProcess::start(
        data.path(),
        &[
            ("SEALPOST_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true"),
            ("SEALPOST_WEBHOOKS__ALLOW_HTTP", "true"),
            // The key's own rate (100/s after a burst of 2,500 by default) would answer 429
            // to this loop: lifted, to time the work of a request rather than the limit.
            ("SEALPOST_RATE_LIMITS__API_KEY__PER_HOUR", "1000000000"),
            ("SEALPOST_RATE_LIMITS__API_KEY__BURST", "1000000"),
        ],
    )?;
    let owner = NativeClient::verified_owner(&relay.url, data.path(), "bench").await?;
    let secret = owner
        .make_api_key("bench", &[wire::ApiScope::SendsRead])
        .await?;
    let session: Vec<(&'static str, String)> = owner
        .session_headers()
        .into_iter()
        .filter(|(name, _)| *name == "cookie")
        .collect();
    let key = vec![("authorization", format!("Bearer {secret}"))];
    // Warm both paths, then alternate.
    rate(&relay.url, 200, &session).await?;
    rate(&relay.url, 200, &key).await?;
    for round in 1..=3 {
        let by_session = rate(&relay.url, requests, &session).await?;
        let by_key = rate(&relay.url, requests, &key).await?;
        println!(
            "round {round}: GET /api/sends {by_session:.0}/s with a session, {by_key:.0}/s with an API key ({:.2}×)",
            by_key / by_session
        );
    }

    // Webhooks: a receiver that counts calls and notes when each arrived.
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let kept = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let kept = kept.clone();
            async move {
                if let Ok(mut arrivals) = kept.lock() {
                    arrivals.push(Instant::now());
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    owner
        .post(
            "/api/org/webhooks",
            Some(&wire::CreateWebhookRequest {
                url: hook,
                events: vec![wire::WebhookEvent::LinkOpened],
            }),
        )
        .await?
        .ok::<wire::CreateWebhookResponse>()?;
    let otp = OtpFixture::new("bench-otp")?;
    let mut links = Vec::with_capacity(events);
    for _ in 0..events {
        links.push(
            owner
                .send_files_with_otp(&[b"x".to_vec()], 1, None, &otp)
                .await?,
        );
    }
    let recipient = NativeClient::anonymous(&relay.url);
    let opening = Instant::now();
    for link in &links {
        let answer = recipient.open_with_otp(link, &otp, false).await?;
        anyhow::ensure!(answer.status == 200, "{answer:?}");
    }
    let opened = Instant::now();
    let deadline = opened + Duration::from_secs(120);
    while arrivals.lock().map(|got| got.len()).unwrap_or_default() < events {
        anyhow::ensure!(Instant::now() < deadline, "not every call arrived in 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = arrivals.lock().map(|got| got.clone()).unwrap_or_default();
    let (first, last) = (got[0], got[got.len() - 1]);
    println!(
        "webhooks: {events} openings in {:.2} s; every call arrived {:.2} s after the last opening; {:.0} calls/s from the first to the last",
        (opened - opening).as_secs_f64(),
        (last - opened).as_secs_f64(),
        (events as f64 - 1.0) / (last - first).as_secs_f64().max(f64::EPSILON)
    );
    drop(relay);
    Ok(())
}
