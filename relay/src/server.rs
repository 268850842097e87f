//! The connection edge: accepting TCP connections and running HTTP/1.1 (and HTTP/2) on them
//! with limits no client can argue with. At most `max_connections` are served at once (more
//! wait in the kernel's backlog); a client gets `header_timeout_seconds` to send a request's
//! headers (also the idle time allowed between requests on a kept-alive connection) and then
//! the connection is closed; bodies are read within `body_timeout_seconds` (`api::read_body`,
//! which answers 408). On shutdown the listener closes at once, requests in flight get
//! `shutdown_grace_seconds` to finish, and whatever is still open then is closed: nothing a
//! client does can hold the relay up. It knows nothing of routes; `app` is the router.

use std::net::SocketAddr;
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
use tower::ServiceExt as _;

use crate::config::ServerConfig;

/// Serves `router` on `listener` until `shutdown` resolves, then drains within the grace time.
pub async fn run(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_timeout_seconds.into()));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(config.header_timeout_seconds.into()))
        .keep_alive_timeout(Duration::from_secs(config.header_timeout_seconds.into()));
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
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tasks.spawn(async move {
            let _permit = permit;
            if let Err(error) = connection.await {
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
