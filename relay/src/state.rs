//! `AppState`: everything a request handler (and the sweeps that share its services) may
//! need, cheap to clone. Its own module, below the edge, so that the modules it is handed to
//! import it from here and not from the crate root above them.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::AppError;
use crate::store::Store;
use crate::{audit, hashing, mail, rate_limit, stripe};

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
    /// The relay's own argon2id, bounded (see `hashing`).
    pub hashing: hashing::Hashing,
    /// Requests per client address on the endpoints anyone can call (see `rate_limit`).
    pub rate_limits: rate_limit::RateLimits,
    /// Whether the operator was warned that a peer outside `trusted_proxies` forwards
    /// requests (once per start).
    pub warned_untrusted_proxy: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    /// Appends an event to the audit log at the relay's time (the one way the API and the
    /// sweep record what they did).
    pub fn audit(
        &self,
        actor: audit::Actor,
        org: Option<shared::ids::Id>,
        action: audit::AuditAction,
        target: Option<String>,
        outcome: audit::Outcome,
    ) -> Result<(), AppError> {
        let event = audit::AuditEvent {
            actor,
            org,
            action,
            target,
            outcome,
        };
        self.store.audit_append(self.clock.now(), event)?;
        Ok(())
    }

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
        let hashing =
            hashing::Hashing::new(config.limits.hashing_parallel, config.limits.hashing_queue);
        let rate_limits = rate_limit::RateLimits::new(&config.rate_limits);
        Self {
            config: Arc::new(config),
            store,
            clock,
            mailer: None,
            stripe,
            hashing,
            rate_limits,
            warned_untrusted_proxy: Arc::default(),
        }
    }

    /// The same state sending mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }
}

impl AppState {
    /// What the rate-limit middleware runs with.
    pub fn limiting(&self) -> rate_limit::Limiting {
        rate_limit::Limiting {
            limits: self.rate_limits.clone(),
            trusted: self.config.brute_force.trusted_proxies.clone().into(),
            warned: self.warned_untrusted_proxy.clone(),
        }
    }
}

impl crate::client_ip::ProxySettings for AppState {
    fn trusted_proxies(&self) -> &[std::net::IpAddr] {
        &self.config.brute_force.trusted_proxies
    }

    fn warned_untrusted_proxy(&self) -> &std::sync::atomic::AtomicBool {
        &self.warned_untrusted_proxy
    }
}
