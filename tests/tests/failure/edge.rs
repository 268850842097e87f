//! The edge holds against slow and hostile clients: a client that sends half its headers or
//! trickles its body is cut off within the configured time while others are served, SIGTERM
//! is not held up by such a client, 200 parallel wrong log-ins from one address run only the
//! hashing the brute-force guard allows (in the real binary, which stays up and small), rate
//! limits answer 429 with `Retry-After`, and a flood of identical refusals is one counted
//! audit entry per window.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use relay::admin::{AdminCommand, send};
use shared::wire;
use tests::native::NativeClient;
use tests::{RelayProcess, StripeStandIn, TestRelay};

/// Connects and sends `text`, leaving the request unfinished.
fn half_sent(address: &str, text: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(address)?;
    stream.write_all(text.as_bytes())?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(stream)
}

/// Reads until the relay closes the connection (or 30 s pass); what it sent.
fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_slow_bodies_are_cut_off_while_others_are_served() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.server.header_timeout_seconds = 1;
        config.server.body_timeout_seconds = 2;
    })
    .await?;
    let address = relay.address.to_string();
    let started = Instant::now();
    let headers = half_sent(&address, "GET /api/health HTTP/1.1\r\nHost: relay\r\n")?;
    let body = half_sent(
        &address,
        "POST /api/auth/prelogin HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
         Content-Length: 200\r\n\r\n{\"email\": \"slow",
    )?;

    // Meanwhile everyone else is served at once.
    let anyone = NativeClient::anonymous(&relay.url);
    let asked = Instant::now();
    assert_eq!(anyone.get("/api/health").await?.status, 200);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );

    let (headers_cut, body_cut) = tokio::task::spawn_blocking(move || {
        let mut headers = headers;
        let mut body = body;
        let header_answer = until_closed(&mut headers);
        let header_time = started.elapsed();
        let body_answer = until_closed(&mut body);
        (
            (header_answer, header_time),
            (body_answer, started.elapsed()),
        )
    })
    .await?;
    assert!(
        headers_cut.1 < Duration::from_secs(5),
        "half-sent headers were cut off after {:?}",
        headers_cut.1
    );
    assert!(
        body_cut.0.starts_with("HTTP/1.1 408"),
        "a trickled body gets 408: {:?}",
        body_cut.0
    );
    assert!(
        body_cut.0.contains("request_timeout"),
        "with the JSON error: {}",
        body_cut.0
    );
    assert!(body_cut.1 < Duration::from_secs(6), "{:?}", body_cut.1);
    assert_eq!(anyone.get("/api/health").await?.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.server.max_connections_per_address = 3;
    })
    .await?;
    let address = relay.address.to_string();
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&address))
        .collect::<Result<_, _>>()?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = tokio::task::spawn_blocking({
        let address = address.clone();
        move || -> anyhow::Result<String> {
            let mut fourth =
                half_sent(&address, "GET /api/health HTTP/1.1\r\nHost: relay\r\n\r\n")?;
            Ok(until_closed(&mut fourth))
        }
    })
    .await??;
    assert!(
        refused.is_empty(),
        "a fourth connection from the address is closed unanswered: {refused:?}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        NativeClient::anonymous(&relay.url)
            .get("/api/health")
            .await?
            .status,
        200,
        "its slots come back when its connections close"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_half_sent_requests() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let relay = RelayProcess::start(
        data.path(),
        &[
            ("SEALPOST_SERVER__HEADER_TIMEOUT_SECONDS", "600"),
            ("SEALPOST_SERVER__BODY_TIMEOUT_SECONDS", "600"),
            ("SEALPOST_SERVER__SHUTDOWN_GRACE_SECONDS", "2"),
        ],
    )?;
    let _headers = half_sent(
        &relay.address,
        "GET /api/health HTTP/1.1\r\nHost: relay\r\n",
    )?;
    let _body = half_sent(
        &relay.address,
        "POST /api/auth/prelogin HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
         Content-Length: 200\r\n\r\n{\"email\": \"slow",
    )?;
    std::thread::sleep(Duration::from_millis(200));
    let (status, took) = relay.terminate(Duration::from_secs(30))?;
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(6),
        "SIGTERM with a 2 s grace took {took:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_wrong_log_ins_hash_only_what_the_guard_allows() -> anyhow::Result<()>
{
    let data = tempfile::tempdir()?;
    let relay = RelayProcess::start(data.path(), &[])?;
    let owner = NativeClient::verified_owner(&relay.url, data.path(), "burst").await?;
    drop(owner);
    let before = relay.peak_rss()?;
    let mut attempts = tokio::task::JoinSet::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    for n in 0..200_u8 {
        let (url, start) = (relay.url.clone(), start.clone());
        attempts.spawn(async move {
            start.wait().await;
            NativeClient::anonymous(&url)
                .post(
                    "/api/auth/login",
                    Some(&wire::LoginRequest {
                        email: "burst@example.com".to_owned(),
                        auth_key: [n; 32].into(),
                    }),
                )
                .await
        });
    }
    let mut hashed = 0;
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    while let Some(answer) = attempts.join_next().await {
        let answer = answer??;
        match (answer.status, answer.code()) {
            (401, "wrong_credentials") => hashed += 1,
            (429 | 503, code) => *refused.entry(code.to_owned()).or_default() += 1,
            _ => anyhow::bail!("unexpected answer {answer:?}"),
        }
    }
    let peak = relay.peak_rss()?;
    println!(
        "200 parallel wrong log-ins: {hashed} hashed, refused {refused:?}; peak RSS {} MiB (before the burst {} MiB)",
        peak / (1024 * 1024),
        before / (1024 * 1024)
    );
    assert!(
        hashed <= 10,
        "{hashed} wrong passwords were hashed; the guard allows 10 per address"
    );
    assert!(
        peak < 256 * 1024 * 1024,
        "peak RSS {peak} bytes; the bound is 256 MiB"
    );
    let blocks = send(data.path(), &AdminCommand::BlocksList)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the relay answers on its admin socket"))?;
    assert!(
        blocks.message.contains("127.0.0.1"),
        "the address is blocked: {}",
        blocks.message
    );
    assert_eq!(
        NativeClient::anonymous(&relay.url)
            .get("/api/health")
            .await?
            .status,
        200,
        "the relay stays up"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.rate_limits.prelogin = relay::config::RateLimit {
            per_hour: 60,
            burst: 3,
        };
    })
    .await?;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let response = http
            .post(format!("{}/api/auth/prelogin", relay.url))
            .json(&wire::PreloginRequest {
                email: "someone@example.com".to_owned(),
            })
            .send()
            .await?;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert!(
        retry_after.is_some_and(|seconds| (1..=61).contains(&seconds)),
        "{retry_after:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_webhooks_is_one_counted_audit_entry_per_window() -> anyhow::Result<()> {
    let stripe = StripeStandIn::start().await?;
    let relay = TestRelay::start_with(|config| stripe.configure(config)).await?;
    stripe.deliver_to(&relay.url);
    for _ in 0..100 {
        let delivery = stripe
            .deliver_with("{\"id\": \"evt_forged\"}", Some("t=1,v1=00"))
            .await?;
        assert_eq!(delivery.status, 400);
    }
    let store = &relay.state().store;
    let now = relay.state().clock.now();
    store.audit_flush_repeats(now + relay::store::REPEAT_WINDOW_SECONDS, false)?;
    let refusals: Vec<relay::audit::AuditEntry> = store
        .audit_entries()?
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.action == "stripe.webhook")
        .collect();
    assert_eq!(
        refusals.iter().map(|entry| entry.count).collect::<Vec<_>>(),
        [1, 99],
        "the first refusal at once, then one entry counting the other 99"
    );
    assert_eq!(
        store.audit_verify()?,
        Ok(u64::try_from(store.audit_entries()?.len())?)
    );
    Ok(())
}
