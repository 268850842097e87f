//! Persistence of brute-force counters and blocks (they survive a restart): failures per IP in
//! a sliding window, blocked IPs with their expiry, and failures per account key (an HMAC of the
//! address, so unknown addresses are counted the same way as known ones). Counters change only
//! through compare-and-swap updates, so parallel attempts are each counted.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::Store;

const IP_FAILURES: &str = "guard_ip_failures";
const IP_BLOCKS: &str = "guard_ip_blocks";
const ACCOUNT_FAILURES: &str = "guard_account_failures";

/// Recent failure times of one IP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFailures {
    pub times: Vec<i64>,
}

/// A blocked IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBlock {
    pub ip: String,
    pub since: i64,
    pub until: i64,
    pub failures: u32,
}

/// Consecutive failures of one account key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFailures {
    pub count: u32,
    pub last: i64,
    pub locked_until: i64,
}

impl Store {
    pub fn ip_failures(&self, ip: &str) -> anyhow::Result<IpFailures> {
        let tree = self.tree(IP_FAILURES)?;
        match tree.get(ip.as_bytes())? {
            Some(bytes) => serde_json::from_slice(&bytes).context("stored IP failures are corrupt"),
            None => Ok(IpFailures::default()),
        }
    }

    /// Applies `change` to an IP's recent failures atomically (none left: forgotten).
    pub fn update_ip_failures<T>(
        &self,
        ip: &str,
        change: impl Fn(&mut IpFailures) -> T,
    ) -> anyhow::Result<(T, IpFailures)> {
        self.upsert_record(
            IP_FAILURES,
            ip.as_bytes(),
            "IP failures",
            change,
            |failures| failures.times.is_empty(),
        )
    }

    pub fn ip_block(&self, ip: &str) -> anyhow::Result<Option<IpBlock>> {
        let tree = self.tree(IP_BLOCKS)?;
        tree.get(ip.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored block is corrupt"))
            .transpose()
    }

    pub fn set_ip_block(&self, block: &IpBlock) -> anyhow::Result<()> {
        let tree = self.tree(IP_BLOCKS)?;
        tree.insert(block.ip.as_bytes(), serde_json::to_vec(block)?)?;
        Ok(())
    }

    /// Lifts a block; whether there was one.
    pub fn remove_ip_block(&self, ip: &str) -> anyhow::Result<bool> {
        let removed = self.tree(IP_BLOCKS)?.remove(ip.as_bytes())?.is_some();
        self.tree(IP_FAILURES)?.remove(ip.as_bytes())?;
        Ok(removed)
    }

    /// Every block still in force at `now`.
    pub fn ip_blocks(&self, now: i64) -> anyhow::Result<Vec<IpBlock>> {
        let tree = self.tree(IP_BLOCKS)?;
        let mut blocks = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let block: IpBlock =
                serde_json::from_slice(&bytes).context("a stored block is corrupt")?;
            if block.until > now {
                blocks.push(block);
            }
        }
        Ok(blocks)
    }

    pub fn account_failures(&self, key: &[u8; 32]) -> anyhow::Result<AccountFailures> {
        let tree = self.tree(ACCOUNT_FAILURES)?;
        match tree.get(key)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).context("stored account failures are corrupt")
            }
            None => Ok(AccountFailures::default()),
        }
    }

    /// Applies `change` to an account's failures atomically (none left: forgotten).
    pub fn update_account_failures<T>(
        &self,
        key: &[u8; 32],
        change: impl Fn(&mut AccountFailures) -> T,
    ) -> anyhow::Result<(T, AccountFailures)> {
        self.upsert_record(
            ACCOUNT_FAILURES,
            key,
            "account failures",
            change,
            |failures| failures.count == 0 && failures.locked_until == 0,
        )
    }
}
