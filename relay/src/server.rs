//! The connection edge: accepting TCP connections (and, with `[tls]`, completing their TLS
//! handshake within the header time) and running HTTP/1.1 on them with limits no
//! client can argue with. At most `max_connections` are served at once (more wait in the
//! kernel's backlog), and at most `max_connections_per_address` from one client address (an
//! IPv6 /64 counts as one; trusted proxies are exempt, since every client comes through them);
//! a client gets `header_timeout_seconds` to send a request's headers (also the idle time
//! allowed between requests on a kept-alive connection) and then the connection is closed;
//! bodies are read within `body_timeout_seconds` (`api::read_body`, which answers 408). HTTP/2
//! is not offered, not even over TLS (ALPN names only http/1.1): its pings would keep an idle
//! connection's slot for ever. On shutdown the listener closes at once, requests in flight get
//! `shutdown_grace_seconds` to finish, and whatever is still open then is closed: nothing a
//! client does can hold the relay up. It knows nothing of routes; `app` is the router. What
//! hyper answers by itself (a request it cannot parse) gets the JSON error shape (`edge_errors`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::config::ServerConfig;

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// drains within the grace time.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    config: &ServerConfig,
    trusted: &[IpAddr],
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_timeout_seconds.into()));
    let per_address = PerAddress::new(config.max_connections_per_address, trusted);
    let header_timeout = Duration::from_secs(config.header_timeout_seconds.into());
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment, do not spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_address.claim(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "refused a connection over the per-address cap");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let _slot = slot;
            // One HTTP/1.1 connection on a byte stream, plain or TLS.
            macro_rules! serve {
                ($stream:expr) => {{
                    let io = TokioIo::new(crate::edge_errors::JsonEdgeErrors::new($stream));
                    let connection = builder.serve_connection_with_upgrades(io, service);
                    watcher.watch(connection.into_owned()).await
                }};
            }
            let result = match tls {
                None => serve!(stream),
                Some(tls) => {
                    // The handshake gets the same time as a request's headers.
                    match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => serve!(stream),
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "a TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("a TLS handshake took too long");
                            return;
                        }
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(error = %error, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, "finishing requests in flight");
    }
    let grace = Duration::from_secs(config.shutdown_grace_seconds.into());
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tasks.len(),
            "requests still running at the end of the shutdown grace time; closing them"
        );
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// How many connections each client address has open.
type OpenCounts = Arc<std::sync::Mutex<HashMap<String, usize>>>;

/// Connections open per client address.
#[derive(Debug, Clone)]
struct PerAddress {
    open: OpenCounts,
    cap: usize,
    exempt: Arc<[IpAddr]>,
}

/// One connection's place in its address's count; given back when dropped.
#[derive(Debug)]
struct Slot {
    open: Option<(OpenCounts, String)>,
}

impl PerAddress {
    fn new(cap: usize, exempt: &[IpAddr]) -> Self {
        Self {
            open: Arc::new(std::sync::Mutex::new(HashMap::new())),
            cap: cap.max(1),
            exempt: exempt.into(),
        }
    }

    /// A slot for one more connection from `ip`, or `None` over the cap.
    fn claim(&self, ip: IpAddr) -> Option<Slot> {
        if self.exempt.contains(&ip) {
            return Some(Slot { open: None });
        }
        let key = crate::client_ip::network_of(&ip.to_string());
        let mut open = self.open.lock().ok()?;
        let count = open.entry(key.clone()).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: Some((self.open.clone(), key)),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((open, key)) = self.open.take() else {
            return;
        };
        if let Ok(mut open) = open.lock()
            && let Some(count) = open.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}
