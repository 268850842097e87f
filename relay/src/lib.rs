//! The Sealpost relay as a library: `app(state)` builds the whole HTTP surface (API and embedded
//! web app) and `serve` runs it until a shutdown signal. `main.rs` only parses configuration and
//! calls these, so tests drive exactly what production runs. The relay never sees plaintext,
//! file names, link secrets, OTPs or private keys (PROTOCOL.md); nothing here decrypts anything.

pub mod accounts;
pub mod admin;
pub mod api_keys;
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
pub mod metrics;
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
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod webhooks;

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
        .route("/metrics", axum::routing::get(api::metrics::get))
        .route_layer(axum::middleware::from_fn(api::metrics::mark_route))
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::metrics::count,
        ))
        .layer(axum::middleware::map_response_with_state(
            security::Hsts::of(&state.config),
            security::hsts,
        ))
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

/// The API's OpenAPI 3.1 document as JSON (`/api/openapi.json`, `sealpost-relay openapi`).
pub fn openapi_document() -> &'static str {
    api::openapi::document()
}

/// What `sealpost-relay --version` prints after the program's name: the release, the protocol
/// (PROTOCOL.md), the SHA-256 of the embedded client (as `/.well-known/sealpost-client.sha256`
/// and the app's footer show it) and the commit it was built from.
pub fn version_text() -> String {
    let client = match client_sha256() {
        "" => "none (built without the client: serves the API only)",
        hash => hash,
    };
    format!(
        "{}\nprotocol {}\nclient bundle sha256 {client}\ncommit {}",
        env!("CARGO_PKG_VERSION"),
        shared::PROTOCOL_VERSION,
        env!("SEALPOST_GIT_COMMIT"),
    )
}

/// Every problem `sealpost-relay check-config` finds: the settings' own
/// (`Config::problems`), and what only trying shows: certificate files that do not load, mail
/// or payment settings that do not parse, a data directory that cannot be written.
pub fn config_problems(config: &Config) -> Vec<String> {
    let mut problems = config.problems();
    if config.tls.enabled()
        && !config.tls.key_file.as_os_str().is_empty()
        && let Err(error) = tls::Certificates::load(&config.tls)
    {
        problems.push(format!("{error:#}"));
    }
    if let Err(error) = mail::Mailer::from_config(&config.smtp, &config.public_url) {
        problems.push(format!("{error:#}"));
    }
    if let Err(error) = stripe::StripeApi::from_config(&config.stripe) {
        problems.push(format!("[stripe]: {error:#}"));
    }
    if let Some(problem) = store::Store::data_dir_problem(&config.data_dir) {
        problems.push(problem);
    }
    problems
}

/// Serves `app(state)` on `listener` (over TLS with `[tls]`, whose certificate files are
/// watched; see `tls`), the redirecting plain-HTTP listener of `[tls] redirect_listen`, and
/// operator commands on the admin socket in the data directory, until `shutdown` resolves;
/// then lets in-flight requests finish within the grace time and flushes the store, so that
/// nothing acknowledged is lost. Announces itself in one log line once it is ready.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = state.config.clone();
    let certificates = if config.tls.enabled() {
        Some(tls::Certificates::load(&config.tls)?)
    } else {
        None
    };
    let acceptor = certificates
        .as_ref()
        .map(|certificates| tls::acceptor(&config.tls, certificates.clone()))
        .transpose()?;
    let address = listener.local_addr()?;
    let redirect = match config.tls.redirect_listen {
        Some(redirect) => Some(TcpListener::bind(redirect).await.map_err(|error| {
            anyhow::anyhow!("while binding [tls] redirect_listen {redirect}: {error}")
        })?),
        None => None,
    };
    let metrics = match config.metrics.listen {
        Some(metrics) => Some(TcpListener::bind(metrics).await.map_err(|error| {
            anyhow::anyhow!("while binding [metrics] listen {metrics}: {error}")
        })?),
        None => None,
    };
    let store = state.store.clone();
    let admin_listener = admin::bind(&config.data_dir)?;
    announce(&state, address, redirect.as_ref(), metrics.as_ref());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(admin::serve(admin_listener, state.clone())),
        tokio::spawn(retention::run(state.clone())),
        tokio::spawn(webhooks::run(state.clone())),
        tokio::spawn(rate_limit::tidy(state.rate_limits.clone())),
        tokio::spawn(audit_repeats(state.clone())),
    ];
    if let Some(certificates) = certificates {
        let every = std::time::Duration::from_secs(config.tls.reload_check_seconds.into());
        tasks.push(tokio::spawn(tls::watch(certificates, every)));
    }
    if let Some(redirect) = redirect {
        let router = tls::redirect_router(&config.public_url, address.port());
        let config = config.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            server::run(
                redirect,
                None,
                router,
                &config.server,
                &config.brute_force.trusted_proxies,
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )
            .await;
        }));
    }
    if let Some(metrics) = metrics {
        let router = api::metrics::separate(state.clone());
        let config = config.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            server::run(metrics, None, router, &config.server, &[], async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
        }));
    }
    server::run(
        listener,
        acceptor,
        app(state.clone()),
        &config.server,
        &config.brute_force.trusted_proxies,
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
    )
    .await;
    drop(stopped);
    for task in &tasks {
        task.abort();
    }
    let _ = std::fs::remove_file(admin::socket_path(&config.data_dir));
    let repeats = store.audit_flush_repeats(state.clock.now(), true);
    store.flush().await?;
    repeats?;
    tracing::info!("store flushed, relay stopped");
    Ok(())
}

/// The one line an operator reads at start: where the relay answers, where its data is, and
/// what is off.
fn announce(
    state: &AppState,
    address: std::net::SocketAddr,
    redirect: Option<&TcpListener>,
    metrics: Option<&TcpListener>,
) {
    let config = &state.config;
    let scheme = if config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    let mut off = Vec::new();
    if !config.tls.enabled() {
        off.push(if config.public_url.trim().starts_with("https://") {
            "TLS (served by the proxy at public_url)"
        } else {
            "TLS ([tls] cert_file, or a proxy and an https:// public_url)"
        });
    }
    if state.mailer.is_none() {
        off.push("mail ([smtp] url: invitations are shown as links to pass on)");
    }
    if !config.stripe.enabled() {
        off.push("card payments ([stripe] keys: invoices are marked paid by hand)");
    }
    if config.public_url.trim().is_empty() {
        off.push("public_url (links in mail, card payments)");
    }
    if metrics.is_none() && config.metrics.token.is_empty() {
        off.push("metrics ([metrics] listen or token)");
    }
    tracing::info!(
        data_dir = %config.data_dir.display(),
        public_url = %config.public_url,
        metrics = %metrics.and_then(|listener| listener.local_addr().ok()).map(|address| format!("http://{address}/metrics")).unwrap_or_default(),
        redirect = %redirect.and_then(|listener| listener.local_addr().ok()).map(|address| format!("http://{address}")).unwrap_or_default(),
        chunks = %state.store.chunks_wanted(),
        off = %off.join("; "),
        client_sha256 = client_sha256(),
        version = env!("CARGO_PKG_VERSION"),
        "Sealpost relay listening on {scheme}://{address}"
    );
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
