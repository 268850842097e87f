//! Request rates per client address on the endpoints anyone can call without an account
//! (sign-up, prelogin, log-in and second factor, invitations, CSP reports, Stripe's webhook),
//! through `governor`'s keyed GCRA limiters. Addresses are counted by network (`network_of`:
//! an IPv6 /64 is one client). A request over its rate is refused before its body is read,
//! with 429 and `Retry-After`. Limiters forget addresses idle long enough (`tidy`), so their
//! memory follows the number of recently active clients. These limits bound the work and the
//! log lines strangers can cause; guessing is limited separately by the brute-force guard.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::client_ip::{ClientIp, ProxySettings, network_of};
use crate::config::{RateLimit, RateLimitsConfig};
use crate::error::AppError;

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Which rate a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Signup,
    Prelogin,
    Login,
    Invitation,
    CspReport,
    Webhook,
    /// Requests made with one API key (counted by key, not by address).
    ApiKey,
}

/// The limiters (cheap to clone).
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<[Keyed; 7]>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(config: &RateLimitsConfig) -> Self {
        let keyed = |rate: &RateLimit| RateLimiter::keyed(quota(rate));
        Self {
            inner: Arc::new([
                keyed(&config.signup),
                keyed(&config.prelogin),
                keyed(&config.login),
                keyed(&config.invitation),
                keyed(&config.csp_report),
                keyed(&config.webhook),
                keyed(&config.api_key),
            ]),
            clock: DefaultClock::default(),
        }
    }

    /// Counts a request from `ip` against `which`; refused with 429 when over the rate.
    pub fn check(&self, which: Limited, ip: &str) -> Result<(), AppError> {
        self.check_counted(which, &network_of(ip))
    }

    /// Counts a request made with the API key `key` against its rate.
    pub fn check_api_key(&self, key: shared::ids::Id) -> Result<(), AppError> {
        self.check_counted(Limited::ApiKey, &key.to_string())
    }

    fn check_counted(&self, which: Limited, counted: &String) -> Result<(), AppError> {
        let limiter = &self.inner[which as usize];
        match limiter.check_key(counted) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(AppError::SlowDown {
                    retry_after_seconds: u32::try_from(wait.as_secs().saturating_add(1))
                        .unwrap_or(u32::MAX),
                })
            }
        }
    }

    /// Forgets addresses whose limits have fully recovered.
    pub fn retain_recent(&self) {
        for limiter in self.inner.iter() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn quota(rate: &RateLimit) -> Quota {
    let per_hour = NonZeroU32::new(rate.per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(3600) / per_hour.get();
    Quota::with_period(period.max(Duration::from_micros(1)))
        .unwrap_or_else(|| Quota::per_second(per_hour))
        .allow_burst(burst)
}

/// Tidies the limiters every minute, until the task is dropped.
pub async fn tidy(limits: RateLimits) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        limits.retain_recent();
    }
}

/// What the middleware runs with: the limiters, and what `ClientIp` needs to find the client.
#[derive(Debug, Clone)]
pub struct Limiting {
    pub limits: RateLimits,
    pub trusted: Arc<[std::net::IpAddr]>,
    pub warned: Arc<std::sync::atomic::AtomicBool>,
}

impl ProxySettings for Limiting {
    fn trusted_proxies(&self) -> &[std::net::IpAddr] {
        &self.trusted
    }

    fn warned_untrusted_proxy(&self) -> &std::sync::atomic::AtomicBool {
        &self.warned
    }
}

async fn enforce(
    limits: &RateLimits,
    which: Limited,
    ip: Option<String>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(ip) = ip
        && let Err(refusal) = limits.check(which, &ip)
    {
        return refusal.into_response();
    }
    next.run(request).await
}

macro_rules! layer {
    ($($name:ident => $which:expr),* $(,)?) => {
        $(
            /// Middleware counting the request against its rate.
            pub async fn $name(
                State(limiting): State<Limiting>,
                ClientIp(ip): ClientIp,
                request: Request,
                next: Next,
            ) -> Response {
                enforce(&limiting.limits, $which, ip, request, next).await
            }
        )*
    };
}

layer! {
    signup => Limited::Signup,
    prelogin => Limited::Prelogin,
    login => Limited::Login,
    invitation => Limited::Invitation,
    csp_report => Limited::CspReport,
    webhook => Limited::Webhook,
}
