//! The Sealpost relay as a library: `app(state)` builds the whole HTTP surface (API and embedded
//! web app) and `serve` runs it until a shutdown signal. `main.rs` only parses configuration and
//! calls these, so tests drive exactly what production runs. The relay never sees plaintext,
//! file names, link secrets, OTPs or private keys (PROTOCOL.md); nothing here decrypts anything.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod authz;
pub mod bundles;
pub mod clock;
mod commit;
pub mod config;
pub mod documents;
mod edge_errors;
pub mod guard;
pub mod hashing;
mod identity;
pub mod invoices;
pub mod links;
pub mod logging;
pub mod mail;
pub mod paywall;
pub mod requests;
pub mod retention;
pub mod sends;
pub mod store;
pub mod stripe;

mod api;
mod assets;
mod client_ip;
mod error;
pub mod rate_limit;
mod security;
mod server;
pub mod session;
mod state;
pub mod tokens;
pub mod totp;

/// Decoders of untrusted input that are private to the API, reachable for the fuzz targets in
/// `relay/fuzz` (not an interface).
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::api::csp_report::CspReport;
}

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use clock::Clock;
pub use config::Config;
pub use error::AppError;
pub use state::AppState;
pub use store::Store;

/// The relay's complete router: `/api/*` (JSON only, JSON errors) and the embedded client for
/// every other path, with the security headers on every response.
pub fn app(state: AppState) -> Router {
    let api = api::router(&state)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            commit::durable,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::body_context,
        ));
    Router::new()
        .nest("/api", api)
        .route(
            "/.well-known/security.txt",
            axum::routing::get(security::security_txt),
        )
        .route(
            "/.well-known/sealpost-client.sha256",
            axum::routing::get(assets::client_files),
        )
        .merge(assets::router())
        .layer(axum::middleware::map_response(security::headers))
        .layer(security::trace_layer())
        .with_state(state)
}

/// SHA-256 of the embedded client bundle (hex), empty when the relay was built without one:
/// over every file, in route order, its route's bytes followed by its own SHA-256 (the files
/// and their hashes are served at `/.well-known/sealpost-client.sha256`; `.ci/client-digest`
/// checks a relay against a published value).
pub fn client_sha256() -> &'static str {
    assets::CLIENT_SHA256
}

/// Serves `app(state)` on `listener` (see `server` for the connection limits), and operator
/// commands on the admin socket in the data directory, until `shutdown` resolves; then lets
/// in-flight requests finish within the grace time and flushes the store, so that nothing
/// acknowledged is lost.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let admin_listener = admin::bind(&state.config.data_dir)?;
    let admin_task = tokio::spawn(admin::serve(admin_listener, state.clone()));
    let retention_task = tokio::spawn(retention::run(state.clone()));
    let limits_task = tokio::spawn(rate_limit::tidy(state.rate_limits.clone()));
    let repeats_task = tokio::spawn(audit_repeats(state.clone()));
    server::run(
        listener,
        app(state.clone()),
        &state.config.server,
        &state.config.brute_force.trusted_proxies,
        shutdown,
    )
    .await;
    admin_task.abort();
    retention_task.abort();
    limits_task.abort();
    repeats_task.abort();
    let _ = std::fs::remove_file(admin::socket_path(&state.config.data_dir));
    let repeats = store.audit_flush_repeats(state.clock.now(), true);
    store.flush().await?;
    repeats?;
    tracing::info!("store flushed, relay stopped");
    Ok(())
}

/// Writes the summaries of repeated refusals whose window closed, twice a window.
async fn audit_repeats(state: AppState) {
    let half = std::time::Duration::from_secs((store::REPEAT_WINDOW_SECONDS / 2).unsigned_abs());
    let mut every = tokio::time::interval(half);
    loop {
        every.tick().await;
        let written = state
            .store
            .audit_flush_repeats(state.clock.now(), false)
            .and(Ok(()));
        let committed = match written {
            Ok(()) => state.store.commit().await,
            Err(error) => Err(error),
        };
        if let Err(error) = committed {
            tracing::error!(
                error = format!("{error:#}"),
                "could not write repeated refusals"
            );
        }
    }
}
