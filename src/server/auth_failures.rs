//! Failed authentication per client address: once one address has sent
//! `FAULTLINE_AUTH_FAILURES_PER_MINUTE` requests with a wrong or unknown key within a minute, its
//! requests are answered `429` with `Retry-After` until the minute ends — unless their key is one
//! the key cache already knows, so a real client behind the same address keeps working. Guessing
//! keys costs the guesser, not PostgreSQL. Kept per process, in memory (bounded).

use super::clock::Clock;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Addresses tracked at most; past it, windows that ended are forgotten first.
const MAX_ADDRESSES: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(60);

/// The address a request came from, when the server knows it (`ConnectInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address of the request these are the parts of.
    pub fn of(parts: &Parts) -> Self {
        Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self::of(parts))
    }
}

/// The failure counts, cheap to clone.
#[derive(Clone)]
pub struct AuthFailures {
    /// Address → (window number, failures in it).
    counts: Arc<Mutex<HashMap<IpAddr, (u64, u32)>>>,
    limit: u32,
    clock: Clock,
    start: std::time::Instant,
}

impl AuthFailures {
    /// `limit` failures per address and minute (0: no limit).
    pub fn new(limit: u32, clock: Clock) -> Self {
        let start = clock.now();
        Self { counts: Arc::default(), limit, clock, start }
    }

    fn window(&self) -> (u64, u64) {
        let elapsed = self.clock.now().saturating_duration_since(self.start).as_secs();
        (elapsed / WINDOW.as_secs(), WINDOW.as_secs() - elapsed % WINDOW.as_secs())
    }

    /// Seconds until `addr` may try again, when it is over its limit.
    pub fn blocked(&self, addr: ClientAddr) -> Option<u64> {
        let ip = addr.0?;
        if self.limit == 0 {
            return None;
        }
        let (window, left) = self.window();
        let counts = self.counts.lock().ok()?;
        match counts.get(&ip) {
            Some((w, n)) if *w == window && *n >= self.limit => Some(left.max(1)),
            _ => None,
        }
    }

    /// Counts one failed authentication from `addr`.
    pub fn record(&self, addr: ClientAddr) {
        let Some(ip) = addr.0 else {
            return;
        };
        if self.limit == 0 {
            return;
        }
        let (window, _) = self.window();
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_ADDRESSES && !counts.contains_key(&ip) {
            counts.retain(|_, (w, _)| *w == window);
            if counts.len() >= MAX_ADDRESSES {
                counts.clear();
            }
        }
        let entry = counts.entry(ip).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> ClientAddr {
        ClientAddr(Some(IpAddr::from([10, 0, 0, last])))
    }

    #[test]
    fn an_address_over_its_limit_waits_until_the_minute_ends_and_others_do_not() {
        let clock = Clock::default();
        let failures = AuthFailures::new(3, clock.clone());
        for _ in 0..3 {
            assert_eq!(failures.blocked(addr(1)), None);
            failures.record(addr(1));
        }
        let wait = failures.blocked(addr(1)).expect("blocked after three failures");
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(failures.blocked(addr(2)), None, "another address is not affected");
        assert_eq!(failures.blocked(ClientAddr(None)), None);
        clock.advance(Duration::from_secs(wait));
        assert_eq!(failures.blocked(addr(1)), None, "a new minute starts over");
    }

    #[test]
    fn no_limit_blocks_nobody() {
        let failures = AuthFailures::new(0, Clock::default());
        for _ in 0..100 {
            failures.record(addr(1));
        }
        assert_eq!(failures.blocked(addr(1)), None);
    }
}
