//! Brute-force blocking (PRODUCT.md "Brute force"). Failed log-ins are counted per IP and per
//! account: by default 10 failures from one IP within 15 minutes block that IP for 24 hours,
//! and an account's consecutive failures beyond 5 impose an exponentially growing wait (capped
//! at 15 minutes). A log-in attempt is counted as a failure before its password is hashed
//! (`begin`) and refunded when it was right (`succeeded`), so a burst of parallel attempts
//! passes the limits no more often than a sequence would. Counters and blocks live in the
//! store and change only by compare-and-swap, so a restart forgets nothing and no parallel
//! failure is lost. Wrong one-time passwords on links count toward the same IP block. Addresses
//! are counted by network (`network_of`: an IPv6 /64 is one client). Account
//! keys are an HMAC of the address, so unknown addresses are throttled exactly like known ones
//! and the answers reveal nobody.

use crate::audit::{Actor, AuditAction, AuditEvent, Outcome};
use crate::client_ip::network_of;
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

/// A log-in attempt let through `Guard::begin`: it already counts as a failure (against its IP
/// and its account) and stays counted unless `Guard::succeeded` refunds it. Counting before the
/// password is checked means a burst of parallel attempts cannot all pass the limits while
/// each is still hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an attempt is refunded with `succeeded` when it turns out right"]
pub struct Attempt {
    /// The network counted (see `network_of`).
    ip: Option<String>,
    account: Option<[u8; 32]>,
    /// The account's wait before and after this attempt was counted.
    locks: Option<(i64, i64)>,
    at: i64,
}

/// The brute-force guard over a store.
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub store: &'a Store,
    pub config: &'a BruteForceConfig,
}

impl Guard<'_> {
    /// Counts an attempt from `ip` on `account` at `now` and lets it through, or refuses it:
    /// the IP is blocked, it has used up its failures in the window (this blocks it), or the
    /// account must wait. A refused attempt still counts against its IP.
    pub fn begin(
        &self,
        ip: Option<&str>,
        account: Option<&[u8; 32]>,
        now: i64,
    ) -> anyhow::Result<Result<Attempt, Refusal>> {
        let network = ip.map(network_of);
        let ip = network.as_deref();
        if let Err(refusal) = self.check_ip(ip, now)? {
            // Hammering on while blocked is not counted again: the block already stands.
            return Ok(Err(refusal));
        }
        // The account's wait before and after this attempt, to undo it if it never runs.
        let mut locks = None;
        if let Some(account) = account {
            let (outcome, _) = self.store.update_account_failures(account, |failures| {
                if failures.locked_until > now {
                    return Err(failures.locked_until - now);
                }
                let before = failures.locked_until;
                failures.count += 1;
                failures.last = now;
                if failures.count > FREE_ACCOUNT_FAILURES {
                    let exponent = (failures.count - FREE_ACCOUNT_FAILURES - 1).min(20);
                    failures.locked_until = now + (1_i64 << exponent).min(MAX_ACCOUNT_WAIT_SECONDS);
                }
                Ok((before, failures.locked_until))
            })?;
            match outcome {
                Err(wait_seconds) => {
                    // A throttled attempt counts against its network like any failure, and
                    // one past the network's allowance meets the block, as it would without
                    // the wait (the block, a day for the whole network, is the answer then).
                    if let Some(address) = ip
                        && let Some(block) = self.admit_ip(address, now)?
                    {
                        return Ok(Err(Refusal::IpBlocked { until: block.until }));
                    }
                    return Ok(Err(Refusal::AccountThrottled { wait_seconds }));
                }
                Ok(lock) => locks = Some(lock),
            }
        }
        if let Some(address) = ip
            && let Some(block) = self.admit_ip(address, now)?
        {
            if let Some(account) = account {
                // The account's count was taken for an attempt that never ran.
                self.refund_account(account, locks)?;
            }
            return Ok(Err(Refusal::IpBlocked { until: block.until }));
        }
        Ok(Ok(Attempt {
            ip: ip.map(str::to_owned),
            account: account.copied(),
            locks,
            at: now,
        }))
    }

    /// Counts a failure of `network` in its window, or, when the window already holds its
    /// allowance, blocks it (compare-and-swap: parallel attempts cannot all slip in).
    fn admit_ip(&self, network: &str, now: i64) -> anyhow::Result<Option<IpBlock>> {
        let window = i64::from(self.config.ip_window_minutes) * 60;
        let max = usize::try_from(self.config.ip_max_failures).unwrap_or(usize::MAX);
        let (admitted, recent) = self.store.update_ip_failures(network, |recent| {
            recent.times.retain(|time| now - time < window);
            if recent.times.len() >= max {
                return false;
            }
            recent.times.push(now);
            true
        })?;
        if admitted {
            return Ok(None);
        }
        self.block(network, recent.times.len(), now).map(Some)
    }

    /// The attempt was right: it no longer counts, and the account's run of failures ends.
    pub fn succeeded(&self, attempt: Attempt) -> anyhow::Result<()> {
        if let Some(account) = &attempt.account {
            self.store.update_account_failures(account, |failures| {
                *failures = AccountFailures::default();
            })?;
        }
        self.forget_ip_failure(&attempt)
    }

    /// The attempt was never checked (the request failed for another reason): it does not
    /// count, but the account's run of failures goes on.
    pub fn cancelled(&self, attempt: Attempt) -> anyhow::Result<()> {
        if let Some(account) = &attempt.account {
            self.refund_account(account, attempt.locks)?;
        }
        self.forget_ip_failure(&attempt)
    }

    fn forget_ip_failure(&self, attempt: &Attempt) -> anyhow::Result<()> {
        if let Some(ip) = &attempt.ip {
            self.store.update_ip_failures(ip, |recent| {
                if let Some(index) = recent.times.iter().position(|time| *time == attempt.at) {
                    recent.times.remove(index);
                }
            })?;
        }
        Ok(())
    }

    /// Whether `ip` is blocked at `now` (attempts with no account, such as link openings).
    pub fn check_ip(&self, ip: Option<&str>, now: i64) -> anyhow::Result<Result<(), Refusal>> {
        if let Some(ip) = ip
            && let Some(block) = self.store.ip_block(&network_of(ip))?
            && block.until > now
        {
            return Ok(Err(Refusal::IpBlocked { until: block.until }));
        }
        Ok(Ok(()))
    }

    /// Counts a failure from `ip` after the fact (a wrong one-time password on a link, whose
    /// own tries are limited by the link); blocks the IP when it reaches the limit. Returns the
    /// block if one was made.
    pub fn record_failure(&self, ip: Option<&str>, now: i64) -> anyhow::Result<Option<IpBlock>> {
        let Some(ip) = ip.map(network_of) else {
            return Ok(None);
        };
        let ip = ip.as_str();
        let window = i64::from(self.config.ip_window_minutes) * 60;
        let max = usize::try_from(self.config.ip_max_failures).unwrap_or(usize::MAX);
        let (count, _) = self.store.update_ip_failures(ip, |recent| {
            recent.times.retain(|time| now - time < window);
            recent.times.push(now);
            recent.times.len()
        })?;
        if count < max {
            return Ok(None);
        }
        self.block(ip, count, now).map(Some)
    }

    /// Blocks `ip` (once per block: an existing block in force is kept) and audits it.
    fn block(&self, ip: &str, failures: usize, now: i64) -> anyhow::Result<IpBlock> {
        if let Some(block) = self.store.ip_block(ip)?
            && block.until > now
        {
            return Ok(block);
        }
        let block = IpBlock {
            ip: ip.to_owned(),
            since: now,
            until: now + i64::from(self.config.ip_block_hours) * 3600,
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        };
        self.store.set_ip_block(&block)?;
        self.store
            .update_ip_failures(ip, |recent| recent.times.clear())?;
        self.store.audit_append(
            now,
            AuditEvent {
                actor: Actor::Anonymous {
                    ip: Some(ip.to_owned()),
                },
                org: None,
                action: AuditAction::GuardIpBlocked,
                target: Some(ip.to_owned()),
                outcome: Outcome::Denied,
            },
        )?;
        Ok(block)
    }

    /// Takes back one counted failure of `account`, and the wait it imposed (`locks`: the wait
    /// before and after it was counted) if no later failure changed that wait.
    fn refund_account(&self, account: &[u8; 32], locks: Option<(i64, i64)>) -> anyhow::Result<()> {
        self.store.update_account_failures(account, |failures| {
            failures.count = failures.count.saturating_sub(1);
            if let Some((before, after)) = locks
                && failures.locked_until == after
            {
                failures.locked_until = before;
            }
        })?;
        Ok(())
    }
}

/// The key an address is counted under: HMAC(server secret, address).
pub fn account_key(secret: &[u8; 32], email: &str) -> [u8; 32] {
    crate::tokens::keyed(secret, b"sealpost/v1/guard-account", email)
}
