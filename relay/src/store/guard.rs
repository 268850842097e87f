//! Persistence of brute-force counters and blocks (they survive a restart): failures per IP in
//! a sliding window, blocked IPs with their expiry, and failures per account key (an HMAC of the
//! address, so unknown addresses are counted the same way as known ones).

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
        let tree = self.db.open_tree(IP_FAILURES)?;
        match tree.get(ip.as_bytes())? {
            Some(bytes) => serde_json::from_slice(&bytes).context("stored IP failures are corrupt"),
            None => Ok(IpFailures::default()),
        }
    }

    pub fn set_ip_failures(&self, ip: &str, failures: &IpFailures) -> anyhow::Result<()> {
        let tree = self.db.open_tree(IP_FAILURES)?;
        if failures.times.is_empty() {
            tree.remove(ip.as_bytes())?;
        } else {
            tree.insert(ip.as_bytes(), serde_json::to_vec(failures)?)?;
        }
        Ok(())
    }

    pub fn ip_block(&self, ip: &str) -> anyhow::Result<Option<IpBlock>> {
        let tree = self.db.open_tree(IP_BLOCKS)?;
        tree.get(ip.as_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored block is corrupt"))
            .transpose()
    }

    pub fn set_ip_block(&self, block: &IpBlock) -> anyhow::Result<()> {
        let tree = self.db.open_tree(IP_BLOCKS)?;
        tree.insert(block.ip.as_bytes(), serde_json::to_vec(block)?)?;
        Ok(())
    }

    /// Lifts a block; whether there was one.
    pub fn remove_ip_block(&self, ip: &str) -> anyhow::Result<bool> {
        let removed = self
            .db
            .open_tree(IP_BLOCKS)?
            .remove(ip.as_bytes())?
            .is_some();
        self.db.open_tree(IP_FAILURES)?.remove(ip.as_bytes())?;
        Ok(removed)
    }

    /// Every block still in force at `now`.
    pub fn ip_blocks(&self, now: i64) -> anyhow::Result<Vec<IpBlock>> {
        let tree = self.db.open_tree(IP_BLOCKS)?;
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
        let tree = self.db.open_tree(ACCOUNT_FAILURES)?;
        match tree.get(key)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).context("stored account failures are corrupt")
            }
            None => Ok(AccountFailures::default()),
        }
    }

    pub fn set_account_failures(
        &self,
        key: &[u8; 32],
        failures: &AccountFailures,
    ) -> anyhow::Result<()> {
        let tree = self.db.open_tree(ACCOUNT_FAILURES)?;
        if failures.count == 0 {
            tree.remove(key)?;
        } else {
            tree.insert(key, serde_json::to_vec(failures)?)?;
        }
        Ok(())
    }
}
