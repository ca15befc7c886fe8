//! `Clock`: the time every cache and limit of the server reads — the real clock, which tests move
//! forward instead of sleeping past a TTL or a window.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Cheap to clone; clones share their offset.
#[derive(Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }

    /// The wall-clock time on this clock (what session expiry compares with).
    pub fn wall(&self) -> chrono::DateTime<chrono::Utc> {
        let offset = chrono::Duration::milliseconds(i64::try_from(self.0.load(Ordering::SeqCst)).unwrap_or(i64::MAX));
        chrono::Utc::now() + offset
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(u64::try_from(by.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }
}
