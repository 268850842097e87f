//! `/metrics` and `/api/ready`: the metrics parse as Prometheus text (checked line by line
//! against the exposition grammar here, not by the library that wrote them), count a send, an
//! open and a wrong one-time password, carry no id, address, handle or name in any label, and
//! are unreachable without their token on the main address; the separate metrics address
//! serves them alone. Readiness fails when the data directory takes no write.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use relay::config::MetricsConfig;

use super::sends::{DAY, MIB, bundle, wrong_proof};
use super::support::*;

const TOKEN: &str = "metrics-token-0123456789abcdef-0123456789";

/// One sample: its name, labels and value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus/OpenMetrics text exposition strictly: `# HELP`/`# TYPE` lines, one
/// `# EOF` at the end, and samples `name{label="value",...} number` with metric and label
/// names of the allowed characters and escaped label values. Panics on anything else.
fn parse(text: &str) -> Vec<Sample> {
    fn name_ok(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let kind = parts.next().expect("a comment kind");
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            assert!(name_ok(parts.next().expect("a name")), "{line}");
            if kind == "TYPE" {
                let kind = parts.next().expect("a type");
                assert!(
                    matches!(
                        kind,
                        "counter" | "gauge" | "histogram" | "summary" | "unknown"
                    ),
                    "{line}"
                );
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number
                .parse()
                .unwrap_or_else(|_| panic!("a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert!(name_ok(&label), "label name {label:?} in {line}");
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("a closed label value") {
                            '"' => break,
                            '\\' => match chars.next().expect("an escape") {
                                'n' => value.push('\n'),
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                other => panic!("escape \\{other} in {line}"),
                            },
                            c => value.push(c),
                        }
                    }
                    labels.insert(label, value);
                    match chars.next() {
                        None => break,
                        Some(',') => {}
                        Some(other) => panic!("{other:?} after a label in {line}"),
                    }
                }
                (name, labels)
            }
        };
        assert!(name_ok(name), "{line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the sample `name` with exactly these labels, 0 if absent.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|sample| {
            sample.name == name
                && sample.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
        })
        .map_or(0.0, |sample| sample.value)
}

async fn scrape(relay: &Relay) -> Vec<Sample> {
    let response = relay
        .send_request(
            Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("text")
            .starts_with("application/openmetrics-text")
    );
    parse(&String::from_utf8(body_bytes(response).await).expect("UTF-8"))
}

fn with_token(config: &mut relay::Config) {
    config.metrics = MetricsConfig {
        token: relay::config::Secret::new(TOKEN.to_owned()),
        ..MetricsConfig::default()
    };
}

#[tokio::test]
async fn metrics_count_a_send_and_an_open_and_no_label_names_anyone() {
    let relay = relay_with(with_token);
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let files = bundle(&[2 * MIB + 7]);
    let link = relay.send(&sender, &files, 2, 7 * DAY).await;
    let wrong = relay.open(None, link.id, &wrong_proof()).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    relay.open_ok(&link).await;

    let samples = scrape(&relay).await;
    let event = |action: &str, outcome: &str| {
        value(
            &samples,
            "sealpost_events_total",
            &[("action", action), ("outcome", outcome)],
        )
    };
    assert_eq!(event("send.create", "success"), 1.0, "{samples:#?}");
    assert_eq!(event("send.open", "success"), 1.0);
    assert_eq!(event("send.open", "failure"), 1.0, "the wrong password");
    assert_eq!(event("auth.signup", "success"), 1.0);
    let requests = |method: &str, route: &str, status: &str| {
        value(
            &samples,
            "sealpost_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/api/links/{id}/open", "200"), 1.0);
    assert_eq!(requests("POST", "/api/links/{id}/open", "403"), 1.0);
    assert_eq!(
        requests("PUT", "/api/sends/{id}/files/{file}/chunks/{chunk}", "204")
            + requests("PUT", "/api/sends/{id}/files/{file}/chunks/{chunk}", "200")
            + requests("PUT", "/api/sends/{id}/files/{file}/chunks/{chunk}", "201"),
        3.0,
        "three chunk uploads"
    );
    let sealed: usize = files.sealed[0]
        .iter()
        .map(|chunk| chunk.as_bytes().len())
        .sum();
    assert_eq!(
        value(&samples, "sealpost_chunk_bytes_stored_total", &[]),
        sealed as f64
    );
    assert!(
        value(
            &samples,
            "sealpost_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/links/{id}/open")]
        ) >= 2.0
    );
    assert!(value(&samples, "sealpost_database_bytes", &[]) > 0.0);
    assert!(value(&samples, "sealpost_disk_free_bytes", &[]) > 0.0);

    // An unknown path counts under a fixed name, never as itself.
    let probe = format!("/api/nothing/{}/ada@example.com", link.id);
    relay
        .send_request(
            Request::get(probe.as_str())
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let samples = scrape(&relay).await;
    assert_eq!(requests_of(&samples, "/api (no route)", "404"), 1.0);
    let forbidden = [
        link.id.to_string(),
        "ada@example.com".to_owned(),
        "ada-law".to_owned(),
        "Firm ada-law".to_owned(),
        "Ada Owner".to_owned(),
    ];
    for sample in &samples {
        for value in sample.labels.values() {
            for secret in &forbidden {
                assert!(
                    !value.contains(secret.as_str()),
                    "{} has a label naming {secret}: {value}",
                    sample.name
                );
            }
            assert!(
                value.len() < 64,
                "label values are short fixed names: {value}"
            );
        }
    }
}

fn requests_of(samples: &[Sample], route: &str, status: &str) -> f64 {
    value(
        samples,
        "sealpost_http_requests_total",
        &[("method", "GET"), ("route", route), ("status", status)],
    )
}

#[tokio::test]
async fn metrics_are_unreachable_without_their_token() {
    let closed = relay();
    let response = closed
        .send_request(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no token configured: no metrics on the main address"
    );
    let guarded = relay_with(with_token);
    for presented in [
        None,
        Some("Bearer wrong"),
        Some(&format!("Bearer {TOKEN}x")[..]),
        Some(TOKEN),
    ] {
        let mut request = Request::get("/metrics");
        if let Some(presented) = presented {
            request = request.header(header::AUTHORIZATION, presented);
        }
        let response = guarded
            .send_request(request.body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{presented:?}");
        let text = String::from_utf8(body_bytes(response).await).expect("UTF-8");
        assert!(!text.contains("sealpost_"), "nothing leaks: {text}");
    }
    scrape(&guarded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_separate_metrics_address_serves_metrics_alone() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let metrics_address = free.local_addr().expect("address");
    drop(free);
    let relay = relay_with(|config| {
        config.metrics.listen = Some(metrics_address);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("address");
    let state = relay::AppState::with_clock(
        relay.config.clone(),
        relay.store.clone(),
        relay.time.clone(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(relay::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(response) = client
            .get(format!("http://{metrics_address}/metrics"))
            .send()
            .await
        {
            answer = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let answer = answer.expect("the metrics address answers");
    assert_eq!(answer.status(), StatusCode::OK);
    let samples = parse(&answer.text().await.expect("text"));
    assert!(
        samples
            .iter()
            .any(|sample| sample.name == "sealpost_disk_free_bytes")
    );
    let elsewhere = client
        .get(format!("http://{metrics_address}/api/health"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "metrics alone");
    let main = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        main.status(),
        StatusCode::NOT_FOUND,
        "not on the main address without a token"
    );
    let _ = stop.send(());
    served.await.expect("joins").expect("stops cleanly");
}

#[tokio::test]
async fn readiness_fails_when_the_data_directory_takes_no_write() {
    let relay = relay();
    let ready = relay.call(Method::GET, "/api/ready", None, None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json(ready).await["status"], "ready");
    // The probe file's place is taken (a folder): no write lands, whoever the test runs as.
    std::fs::create_dir(relay.dir.path().join(".ready-probe")).expect("a folder");
    let ready = relay.call(Method::GET, "/api/ready", None, None).await;
    expect_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    )
    .await;
    let health = relay.call(Method::GET, "/api/health", None, None).await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "liveness stays cheap and up"
    );
}
