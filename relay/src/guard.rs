//! Brute-force blocking (PRODUCT.md "Brute force"). Failed log-ins are counted per IP and per
//! account: by default 10 failures from one IP within 15 minutes block that IP for 24 hours,
//! and an account's consecutive failures beyond 5 impose an exponentially growing wait (capped
//! at 15 minutes). Counters and blocks live in the store, so a restart forgets nothing. Wrong
//! one-time passwords on links count toward the same IP block. Account keys are an HMAC of the address, so
//! unknown addresses are throttled exactly like known ones and the answers reveal nobody.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::audit::{Actor, AuditEvent, Outcome};
use crate::config::BruteForceConfig;
use crate::store::{AccountFailures, IpBlock, Store};

/// Failures beyond this many start the account's exponential wait.
const FREE_ACCOUNT_FAILURES: u32 = 5;
const MAX_ACCOUNT_WAIT_SECONDS: i64 = 15 * 60;

/// Why an attempt is refused before it is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The IP is blocked until then.
    IpBlocked { until: i64 },
    /// The account must wait this many seconds.
    AccountThrottled { wait_seconds: i64 },
}

/// The brute-force guard over a store.
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub store: &'a Store,
    pub config: &'a BruteForceConfig,
}

impl Guard<'_> {
    /// May an attempt from `ip` on `account` go ahead at `now`?
    pub fn check(
        &self,
        ip: Option<&str>,
        account: &[u8; 32],
        now: i64,
    ) -> anyhow::Result<Result<(), Refusal>> {
        if let Some(ip) = ip
            && let Some(block) = self.store.ip_block(ip)?
            && block.until > now
        {
            return Ok(Err(Refusal::IpBlocked { until: block.until }));
        }
        let failures = self.store.account_failures(account)?;
        if failures.locked_until > now {
            return Ok(Err(Refusal::AccountThrottled {
                wait_seconds: failures.locked_until - now,
            }));
        }
        Ok(Ok(()))
    }

    /// Whether `ip` is blocked at `now` (attempts with no account, such as link openings).
    pub fn check_ip(&self, ip: Option<&str>, now: i64) -> anyhow::Result<Result<(), Refusal>> {
        if let Some(ip) = ip
            && let Some(block) = self.store.ip_block(ip)?
            && block.until > now
        {
            return Ok(Err(Refusal::IpBlocked { until: block.until }));
        }
        Ok(Ok(()))
    }

    /// Counts a failure (a wrong password, or an attempt refused by throttling); blocks the IP
    /// when it reaches the limit, and audits the block. Returns the block if one was made.
    pub fn record_failure(
        &self,
        ip: Option<&str>,
        account: Option<&[u8; 32]>,
        now: i64,
    ) -> anyhow::Result<Option<IpBlock>> {
        if let Some(account) = account {
            let mut failures = self.store.account_failures(account)?;
            failures.count += 1;
            failures.last = now;
            if failures.count > FREE_ACCOUNT_FAILURES {
                let exponent = (failures.count - FREE_ACCOUNT_FAILURES - 1).min(20);
                failures.locked_until = now + (1_i64 << exponent).min(MAX_ACCOUNT_WAIT_SECONDS);
            }
            self.store.set_account_failures(account, &failures)?;
        }
        let Some(ip) = ip else {
            return Ok(None);
        };
        let window = i64::from(self.config.ip_window_minutes) * 60;
        let mut recent = self.store.ip_failures(ip)?;
        recent.times.retain(|time| now - time < window);
        recent.times.push(now);
        let count = u32::try_from(recent.times.len()).unwrap_or(u32::MAX);
        if count < self.config.ip_max_failures {
            self.store.set_ip_failures(ip, &recent)?;
            return Ok(None);
        }
        let block = IpBlock {
            ip: ip.to_owned(),
            since: now,
            until: now + i64::from(self.config.ip_block_hours) * 3600,
            failures: count,
        };
        self.store.set_ip_block(&block)?;
        recent.times.clear();
        self.store.set_ip_failures(ip, &recent)?;
        self.store.audit_append(
            now,
            AuditEvent {
                actor: Actor::Anonymous {
                    ip: Some(ip.to_owned()),
                },
                org: None,
                action: "guard.ip_blocked",
                target: Some(ip.to_owned()),
                outcome: Outcome::Denied,
            },
        )?;
        Ok(Some(block))
    }

    /// A success clears the account's consecutive failures.
    pub fn record_success(&self, account: &[u8; 32]) -> anyhow::Result<()> {
        self.store
            .set_account_failures(account, &AccountFailures::default())
    }
}

/// The key an address is counted under: HMAC(server secret, address).
pub fn account_key(secret: &[u8; 32], email: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"sealpost/v1/guard-account");
    mac.update(email.as_bytes());
    mac.finalize().into_bytes().into()
}
