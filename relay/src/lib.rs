//! The Sealpost relay as a library: `app(state)` builds the whole HTTP surface (API and embedded
//! web app) and `serve` runs it until a shutdown signal. `main.rs` only parses configuration and
//! calls these, so tests drive exactly what production runs. The relay never sees plaintext,
//! file names, link secrets, OTPs or private keys (PROTOCOL.md); nothing here decrypts anything.

pub mod admin;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod config;
pub mod guard;
pub mod mail;
pub mod paywall;
pub mod retention;
pub mod store;
pub mod stripe;

mod api;
mod assets;
mod error;
mod security;
pub mod session;
pub mod totp;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use clock::Clock;
pub use config::Config;
pub use error::AppError;
pub use store::Store;

/// Everything a request handler may need, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Clock,
    /// Outgoing mail, when `[smtp]` is configured.
    pub mailer: Option<mail::Mailer>,
    /// Stripe's API, when `[stripe]` is configured.
    pub stripe: Option<stripe::StripeApi>,
}

impl AppState {
    /// State on the system clock.
    pub fn new(config: Config, store: Store) -> Self {
        Self::with_clock(config, store, Clock::system())
    }

    /// State on a given clock (tests move time with `Clock::manual`).
    pub fn with_clock(config: Config, store: Store, clock: Clock) -> Self {
        // `main` builds the client once before this to stop on a bad `[stripe]` section.
        let stripe = stripe::StripeApi::from_config(&config.stripe).unwrap_or_else(|error| {
            tracing::error!(error = format!("{error:#}"), "card payments are off");
            None
        });
        Self {
            config: Arc::new(config),
            store,
            clock,
            mailer: None,
            stripe,
        }
    }

    /// The same state sending mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }
}

/// The relay's complete router: `/api/*` (JSON only, JSON errors) and the embedded client for
/// every other path, with the security headers on every response.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api", api::router(&state.config))
        .merge(assets::router())
        .layer(axum::middleware::map_response(security::headers))
        .layer(security::trace_layer())
        .with_state(state)
}

/// SHA-256 of the embedded client bundle (hex), empty when the relay was built without one.
pub fn client_sha256() -> &'static str {
    assets::CLIENT_SHA256
}

/// Serves `app(state)` on `listener`, and operator commands on the admin socket in the data
/// directory, until `shutdown` resolves; then lets in-flight requests finish and flushes the
/// store so that nothing acknowledged is lost.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let admin_listener = admin::bind(&state.config.data_dir)?;
    let admin_task = tokio::spawn(admin::serve(admin_listener, state.clone()));
    let retention_task = tokio::spawn(retention::run(state.clone()));
    let router = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    admin_task.abort();
    retention_task.abort();
    let _ = std::fs::remove_file(admin::socket_path(&state.config.data_dir));
    served?;
    store.flush().await?;
    tracing::info!("store flushed, relay stopped");
    Ok(())
}
