//! The relay's own argon2id (PROTOCOL.md "Accounts": `argon2id(auth_key, server salt)`), the
//! one expensive thing an anonymous client can make the relay do. It runs on the blocking pool
//! behind a semaphore of `parallel` permits with a short queue of `queue` waiters; past the
//! queue the caller gets `AppError::Busy` (503 with `Retry-After`) at once instead of piling
//! up threads and memory. So a burst of log-ins or sign-ups costs at most
//! `parallel × 19 MiB` of hashing memory, however many arrive. It does not decide who may
//! hash; the brute-force guard and the rate limits do that before.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use shared::crypto::AuthKey;
use tokio::sync::Semaphore;

use crate::error::AppError;

/// The bounded hashing service (cheap to clone).
#[derive(Clone, Debug)]
pub struct Hashing {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    runs: AtomicU64,
}

/// Leaves the queue when dropped (also when the request is cancelled while waiting).
struct InQueue<'a>(&'a AtomicUsize);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a refused caller is asked to wait.
const RETRY_AFTER_SECONDS: u32 = 2;

impl Hashing {
    /// At most `parallel` hashes at once (at least one), `queue` callers waiting.
    pub fn new(parallel: usize, queue: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(parallel.max(1))),
                waiting: AtomicUsize::new(0),
                max_waiting: queue,
                runs: AtomicU64::new(0),
            }),
        }
    }

    /// `argon2id(auth_key, server_salt)` with the relay's parameters.
    pub async fn storage_hash(
        &self,
        auth_key: [u8; 32],
        server_salt: [u8; 16],
    ) -> Result<[u8; 32], AppError> {
        let inner = &self.inner;
        let permit =
            match inner.permits.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if inner.waiting.fetch_add(1, Ordering::AcqRel) >= inner.max_waiting {
                        inner.waiting.fetch_sub(1, Ordering::AcqRel);
                        return Err(AppError::Busy {
                            retry_after_seconds: RETRY_AFTER_SECONDS,
                        });
                    }
                    let _queued = InQueue(&inner.waiting);
                    inner.permits.clone().acquire_owned().await.map_err(|_| {
                        AppError::Internal(anyhow::anyhow!("the hashing pool closed"))
                    })?
                }
            };
        inner.runs.fetch_add(1, Ordering::AcqRel);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            AuthKey::dangerously_from_bytes(auth_key).storage_hash(&server_salt)
        })
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("hashing panicked: {error}")))?
        .map_err(|error| AppError::Internal(anyhow::anyhow!("hashing failed: {error}")))
    }

    /// How many hashes were started since the relay started.
    pub fn runs(&self) -> u64 {
        self.inner.runs.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_callers_are_told_to_come_back_and_nothing_more_is_hashed() {
        let hashing = Hashing::new(1, 2);
        let mut calls = tokio::task::JoinSet::new();
        let start = Arc::new(tokio::sync::Barrier::new(12));
        for n in 0..12_u8 {
            let (hashing, start) = (hashing.clone(), start.clone());
            calls.spawn(async move {
                start.wait().await;
                hashing.storage_hash([n; 32], [n; 16]).await
            });
        }
        let (mut hashed, mut busy) = (0, 0);
        while let Some(result) = calls.join_next().await {
            match result.expect("no panic") {
                Ok(_) => hashed += 1,
                Err(AppError::Busy {
                    retry_after_seconds,
                }) => {
                    assert!(retry_after_seconds > 0);
                    busy += 1;
                }
                Err(error) => panic!("unexpected {error}"),
            }
        }
        assert_eq!(hashed + busy, 12);
        assert!(
            (1..=3).contains(&hashed),
            "one running and two waiting at most: {hashed} hashed"
        );
        assert_eq!(hashing.runs(), hashed);
    }
}
