//! A webhook receiver on a real socket for the end-to-end tests: it answers 204 to every call
//! and keeps each call's `Sealpost-Signature` and body, and checks a signature independently
//! of the relay (HMAC-SHA-256 of `"<t>.<body>"` under the endpoint's secret, Stripe's scheme).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hmac::Mac as _;

/// The calls a receiver got: (signature header, body).
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<(String, String)>>>,
    pub url: String,
}

impl Receiver {
    /// A receiver at `http://127.0.0.1:<port>/hook`.
    pub async fn start() -> anyhow::Result<Self> {
        let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let kept = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let kept = kept.clone();
                async move {
                    let signature = headers
                        .get("sealpost-signature")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    if let Ok(mut got) = kept.lock() {
                        got.push((signature, body));
                    }
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { got, url })
    }

    /// Every call so far.
    pub fn got(&self) -> Vec<(String, String)> {
        self.got.lock().map(|got| got.clone()).unwrap_or_default()
    }

    /// Waits (at most 20 s: the relay's worker looks every 2 s) until `count` calls arrived;
    /// their payloads, each signature checked with `secret`.
    pub async fn payloads(
        &self,
        count: usize,
        secret: &str,
    ) -> anyhow::Result<Vec<shared::wire::WebhookPayload>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.got().len() < count {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} of {count} webhook calls within 20 s",
                self.got().len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.got()
            .iter()
            .map(|(signature, body)| {
                verify(signature, body, secret)?;
                Ok(serde_json::from_str(body)?)
            })
            .collect()
    }
}

/// Checks a `Sealpost-Signature` value over `body` under `secret`.
pub fn verify(signature: &str, body: &str, secret: &str) -> anyhow::Result<()> {
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .context("a signature of the form t=…,v1=…")?;
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret.as_bytes())?;
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1)?)
        .map_err(|_| anyhow::anyhow!("the webhook signature does not verify"))
}
