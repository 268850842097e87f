//! Trust under failure (issue 12): the relay keeps its promises on a bad day.
//! - `crash`: the relay binary killed with SIGKILL at random points, 200 times and more,
//!   loses no acknowledged write of any kind and never shows half a bundle.
//! - `stale`: a request that loaded a record and then waited (a trickled body) never undoes a
//!   security action taken meanwhile; parallel guesses at a second factor each count.
//! - `edge`: slow clients are cut off while others are served, a half-sent request cannot
//!   hold up SIGTERM, a burst of wrong log-ins hashes only what the guard allows, rate limits
//!   answer 429 with `Retry-After`, and repeated refusals are aggregated in the audit log.
//! - `storage`: strangers' uploads never stop a firm's own sending, chunks written after a
//!   revoke do not outlive it, shredded key material is in no file of the data directory,
//!   and a full disk answers 507 without spending an open.
//! - `review`: the security review's findings (issue 13), each exploit scripted.
//!
//! One binary (one link step on two cores), one harness: `tests`'s `TestRelay` in-process,
//! `RelayProcess` for the real binary, and the helpers below.

mod crash;
mod edge;
mod review;
mod stale;
mod storage;

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request};
use serde_json::Value;
use tests::TestRelay;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

/// A request to a relay's router, run in this process, whose body is held back: `loaded`
/// returns once the handler has started to read the body (so its extractors, the session
/// with its user and organisation among them, have loaded their records), and `finish` sends
/// the body and returns the answer. Between the two a test does what must win.
#[derive(Debug)]
pub struct Held {
    started: Option<oneshot::Receiver<()>>,
    release: Option<oneshot::Sender<()>>,
    answer: tokio::task::JoinHandle<(u16, Value)>,
}

impl Held {
    /// Sends `method path` with `headers` to `relay`'s router and holds back `body`.
    pub fn send(
        relay: &TestRelay,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Self {
        Self::send_to(
            relay::app(relay.state().clone()),
            method,
            path,
            headers,
            "application/json",
            body,
        )
    }

    /// `send` to a given router, with a given content type.
    pub fn send_to(
        router: axum::Router,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Self {
        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let stream =
            futures::stream::unfold(Some((started_tx, released, body)), |state| async move {
                let (started_tx, released, body) = state?;
                let _ = started_tx.send(());
                let _ = released.await;
                Some((Ok::<_, std::io::Error>(Bytes::from(body)), None))
            });
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .header("content-type", content_type)
            .body(Body::from_stream(stream))
            .unwrap_or_else(|error| panic!("a request: {error}"));
        let answer = tokio::spawn(async move {
            let response = router
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {});
            let status = response.status().as_u16();
            let bytes = collect(response.into_body()).await;
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, body)
        });
        Self {
            started: Some(started),
            release: Some(release),
            answer,
        }
    }

    /// Returns once the handler reads the body.
    pub async fn loaded(&mut self) {
        if let Some(started) = self.started.take() {
            tokio::time::timeout(std::time::Duration::from_secs(30), started)
                .await
                .unwrap_or_else(|_| panic!("the handler never read the body"))
                .unwrap_or_else(|_| panic!("the request ended before reading its body"));
        }
    }

    /// Sends the body and returns the answer's status and JSON.
    pub async fn finish(mut self) -> (u16, Value) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        self.answer
            .await
            .unwrap_or_else(|error| panic!("the held request panicked: {error}"))
    }
}

/// A request body as JSON bytes.
pub fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|error| panic!("JSON: {error}"))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    tests::flows::files_under(dir)
}

/// A whole response body.
async fn collect(body: Body) -> Vec<u8> {
    axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default()
}
