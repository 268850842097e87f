//! A tampering reverse proxy for tests of what the browser must not trust: it forwards every
//! request to the relay and its answer back (status, headers, cookies, body), and while a
//! rewrite is set, passes the JSON answers of the API through it first. With it a test plays a
//! relay (or network) that serves substituted public keys, and shows the browser refuses them.
//! It also keeps a ledger of every chunk upload and download it forwarded with the relay's
//! answer, and can be pointed at another relay (a restarted one, on a new port) while the
//! browser keeps one address: while none answers it says 502, as a reverse proxy does. And it
//! can answer a file of the app with other bytes (as a relay upgraded to a new release does).

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A rewrite of an API answer: the request's path and the parsed JSON body.
pub type Rewrite = Box<dyn Fn(&str, &mut Value) + Send + Sync>;

/// A running proxy. Dropping it stops the server.
pub struct TamperingProxy {
    /// Where browsers reach it, without a trailing slash.
    pub url: String,
    rewrite: Arc<Mutex<Option<Rewrite>>>,
    upstream: Arc<Mutex<String>>,
    chunks: Arc<Mutex<Vec<ChunkAnswer>>>,
    files: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

/// One chunk request the proxy forwarded, and what the relay answered (502 if none did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkAnswer {
    pub method: String,
    pub path: String,
    pub status: u16,
}

impl std::fmt::Debug for TamperingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TamperingProxy")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Shared {
    upstream: Arc<Mutex<String>>,
    chunks: Arc<Mutex<Vec<ChunkAnswer>>>,
    files: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    http: reqwest::Client,
    rewrite: Arc<Mutex<Option<Rewrite>>>,
}

impl TamperingProxy {
    /// Starts a proxy in front of `upstream` (a relay's URL), passing everything unchanged.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("while binding the proxy")?;
        let url = format!("http://{}", listener.local_addr()?);
        let rewrite: Arc<Mutex<Option<Rewrite>>> = Arc::new(Mutex::new(None));
        let upstream = Arc::new(Mutex::new(upstream.trim_end_matches('/').to_owned()));
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let files = Arc::new(Mutex::new(std::collections::HashMap::new()));
        let shared = Shared {
            upstream: upstream.clone(),
            chunks: chunks.clone(),
            files: files.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            rewrite: rewrite.clone(),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            rewrite,
            upstream,
            chunks,
            files,
            task,
        })
    }

    /// From now on answers `GET path` with `bytes` (the relay's headers, without its ETag and
    /// encoding), as a relay serving another release of the app would.
    pub fn serve_instead(&self, path: &str, bytes: Vec<u8>) {
        lock(&self.files).insert(path.to_owned(), bytes);
    }

    /// Forwards to another relay from now on (e.g. one restarted on a new port).
    pub fn point_at(&self, upstream: &str) {
        *lock(&self.upstream) = upstream.trim_end_matches('/').to_owned();
    }

    /// Every chunk request forwarded so far, in the order the answers came.
    pub fn chunk_answers(&self) -> Vec<ChunkAnswer> {
        lock(&self.chunks).clone()
    }

    /// From now on, JSON answers of the API pass through `rewrite`.
    pub fn tamper(&self, rewrite: Rewrite) {
        *self
            .rewrite
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(rewrite);
    }

    /// Back to passing everything unchanged.
    pub fn behave(&self) {
        *self
            .rewrite
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl Drop for TamperingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Replaces the `public_key` of every key holder of `users` anywhere in `value` with `spki`.
pub fn substitute_keys(value: &mut Value, users: &[String], spki: &str) {
    match value {
        Value::Object(map) => {
            let targeted = map
                .get("user")
                .and_then(Value::as_str)
                .is_some_and(|user| users.iter().any(|wanted| wanted == user));
            if targeted && map.contains_key("public_key") {
                map.insert("public_key".to_owned(), Value::String(spki.to_owned()));
            }
            for child in map.values_mut() {
                substitute_keys(child, users, spki);
            }
        }
        Value::Array(items) => {
            for item in items {
                substitute_keys(item, users, spki);
            }
        }
        _ => {}
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = match relay_through(&shared, request).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, format!("proxy: {error:#}")).into_response(),
    };
    if path.starts_with("/api/") && path.contains("/chunks/") {
        lock(&shared.chunks).push(ChunkAnswer {
            method,
            path,
            status: response.status().as_u16(),
        });
    }
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn relay_through(shared: &Shared, request: Request) -> anyhow::Result<Response> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let upstream = lock(&shared.upstream).clone();
    let target = format!(
        "{}{}",
        upstream,
        parts
            .uri
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str())
    );
    let body: Bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await?;
    let replacement = lock(&shared.files).get(&path).cloned();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())?;
    let mut outgoing = shared.http.request(method, &target).body(body.to_vec());
    for (name, value) in &parts.headers {
        let validator = name == "if-none-match" || name == "accept-encoding";
        if name != "host" && name != "content-length" && !(replacement.is_some() && validator) {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = outgoing.send().await?;
    let status = StatusCode::from_u16(answer.status().as_u16())?;
    let mut headers = answer.headers().clone();
    let mut bytes = answer.bytes().await?.to_vec();
    if let Some(replacement) = replacement {
        bytes = replacement;
        headers.remove("etag");
        headers.remove("content-encoding");
    }
    let is_json = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json && path.starts_with("/api/") {
        let guard = shared
            .rewrite
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rewrite) = guard.as_ref()
            && let Ok(mut value) = serde_json::from_slice::<Value>(&bytes)
        {
            rewrite(&path, &mut value);
            bytes = serde_json::to_vec(&value)?;
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name == "content-length" || name == "transfer-encoding" || name == "connection" {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(name.as_str().as_bytes())
            && let Ok(value) = axum::http::HeaderValue::from_bytes(value.as_bytes())
        {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}
