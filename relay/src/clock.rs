//! The relay's notion of "now", in whole Unix seconds, injectable so that tests can move time
//! (expiry, session idle limits, blocks) without sleeping. Production uses the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now = {})", self.now())
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        }))
    }

    /// A clock that stands still until the returned handle moves it.
    pub fn manual(start: i64) -> (Self, ManualClock) {
        let now = Arc::new(AtomicI64::new(start));
        let reader = now.clone();
        (
            Self(Arc::new(move || reader.load(Ordering::SeqCst))),
            ManualClock(now),
        )
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// Moves a manual clock.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Where the clock stands.
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
