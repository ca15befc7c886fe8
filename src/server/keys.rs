//! The key cache: which project a REST API key or a public DSN key belongs to, remembered in
//! memory so most requests never ask PostgreSQL.
//!
//! - A known key is trusted for `key_cache_ttl`; after that it is looked up again, but while
//!   PostgreSQL cannot be reached the remembered answer stays valid for up to `key_cache_stale`
//!   (an hour by default), so ingest keeps accepting events for known keys through an outage.
//! - Unknown keys are remembered apart (for the same TTL), so garbage keys cost one query each
//!   per TTL at most and can never push real keys out: each side has its own bound.
//! - After a failed lookup, PostgreSQL is not asked again for `RETRY_AFTER_FAILURE`; remembered
//!   keys are answered from memory meanwhile, so an outage does not slow every request down.

use super::clock::Clock;
use super::db;
use super::error::ServerError;
use crate::model::ProjectId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Known keys kept at most (real deployments hold a few hundred); past it the oldest goes.
const MAX_KNOWN: usize = 10_000;
/// Unknown keys kept at most; past it they are forgotten (known keys stay).
const MAX_UNKNOWN: usize = 10_000;
/// How long lookups are not tried after one failed for want of PostgreSQL.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// How long answers may be trusted.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    /// A remembered answer younger than this is used without a lookup.
    pub ttl: Duration,
    /// A known key's answer is used while PostgreSQL cannot be reached, up to this age.
    pub stale: Duration,
}

#[derive(Default)]
struct Entries {
    known: HashMap<String, (ProjectId, Instant)>,
    unknown: HashMap<String, Instant>,
    /// Lookups are skipped until then (PostgreSQL was unreachable).
    paused_until: Option<Instant>,
}

/// One kind of key → project lookup, remembered.
#[derive(Clone, Default)]
pub struct TtlCache {
    entries: Arc<Mutex<Entries>>,
    clock: Clock,
}

/// What the memory alone says about a key.
enum Remembered {
    Fresh(Option<ProjectId>),
    /// Known, older than the TTL: usable as a fallback until it is `stale`.
    Old(ProjectId, Duration),
    Nothing,
}

impl TtlCache {
    fn remembered(&self, key: &str, ttl: Duration) -> (Remembered, bool) {
        let Ok(entries) = self.entries.lock() else {
            return (Remembered::Nothing, false);
        };
        let now = self.clock.now();
        let paused = entries.paused_until.is_some_and(|t| now < t);
        if let Some((project, at)) = entries.known.get(key) {
            let age = now.saturating_duration_since(*at);
            return (
                if age < ttl { Remembered::Fresh(Some(*project)) } else { Remembered::Old(*project, age) },
                paused,
            );
        }
        match entries.unknown.get(key) {
            Some(at) if now.saturating_duration_since(*at) < ttl => (Remembered::Fresh(None), paused),
            _ => (Remembered::Nothing, paused),
        }
    }

    fn remember(&self, key: &str, project: Option<ProjectId>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.paused_until = None;
        match project {
            Some(p) => {
                entries.unknown.remove(key);
                if entries.known.len() >= MAX_KNOWN && !entries.known.contains_key(key) {
                    let oldest = entries.known.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        entries.known.remove(&k);
                    }
                }
                entries.known.insert(key.to_owned(), (p, self.clock.now()));
            }
            None => {
                entries.known.remove(key);
                if entries.unknown.len() >= MAX_UNKNOWN {
                    entries.unknown.clear();
                }
                entries.unknown.insert(key.to_owned(), self.clock.now());
            }
        }
    }

    fn pause(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.paused_until = Some(self.clock.now() + RETRY_AFTER_FAILURE);
        }
    }

    /// The project `key` maps to: from memory when fresh, else from `load`; when `load` cannot
    /// reach PostgreSQL, a known key's older answer up to `stale`.
    pub async fn get_or_load<F, Fut>(
        &self,
        key: &str,
        freshness: Freshness,
        load: F,
    ) -> Result<Option<ProjectId>, ServerError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<ProjectId>, ServerError>>,
    {
        let (remembered, paused) = self.remembered(key, freshness.ttl);
        let fallback = match remembered {
            Remembered::Fresh(answer) => return Ok(answer),
            Remembered::Old(project, age) if age < freshness.stale => Some(project),
            _ => None,
        };
        if paused && let Some(project) = fallback {
            return Ok(Some(project));
        }
        match load().await {
            Ok(project) => {
                self.remember(key, project);
                Ok(project)
            }
            Err(e) if e.is_unavailable() => {
                self.pause();
                match fallback {
                    Some(project) => {
                        tracing::debug!(error = %e, "key lookup failed; using the remembered answer");
                        Ok(Some(project))
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The project of a key memory knows (looked up less than `stale` ago), without a lookup.
    pub fn known(&self, key: &str, freshness: Freshness) -> Option<ProjectId> {
        match self.remembered(key, freshness.ttl).0 {
            Remembered::Fresh(project) => project,
            Remembered::Old(project, age) if age < freshness.stale => Some(project),
            _ => None,
        }
    }

    /// Forgets every remembered lookup (after a key is revoked or rotated here).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.known.clear();
            entries.unknown.clear();
        }
    }
}

/// Key lookups of both kinds: REST API keys (by hash) and public DSN keys.
#[derive(Clone)]
pub struct KeyCache {
    api_keys: TtlCache,
    dsn_keys: TtlCache,
}

impl KeyCache {
    /// Both caches, reading `clock`.
    pub fn new(clock: Clock) -> Self {
        let cache = || TtlCache { entries: Arc::default(), clock: clock.clone() };
        Self { api_keys: cache(), dsn_keys: cache() }
    }

    /// The project of `key`, if it is a live API key.
    pub async fn project_of(
        &self,
        db: &sqlx::PgPool,
        freshness: Freshness,
        key: &str,
    ) -> Result<Option<ProjectId>, ServerError> {
        let hash = db::api_keys::hash(key);
        self.api_keys.get_or_load(&hash, freshness, || async { Ok(db::api_keys::find_project(db, &hash).await?) }).await
    }

    /// The project whose public DSN key is `key`.
    pub async fn project_of_dsn_key(
        &self,
        db: &sqlx::PgPool,
        freshness: Freshness,
        key: &str,
    ) -> Result<Option<ProjectId>, ServerError> {
        self.dsn_keys.get_or_load(key, freshness, || async { Ok(db::projects::find_by_key(db, key).await?) }).await
    }

    /// The project of an API key memory knows, without a lookup.
    pub fn known_api_key(&self, key: &str, freshness: Freshness) -> Option<ProjectId> {
        self.api_keys.known(&db::api_keys::hash(key), freshness)
    }

    /// The project of a DSN key memory knows, without a lookup.
    pub fn known_dsn_key(&self, key: &str, freshness: Freshness) -> Option<ProjectId> {
        self.dsn_keys.known(key, freshness)
    }

    /// Forgets every cached lookup.
    pub fn clear(&self) {
        self.api_keys.clear();
        self.dsn_keys.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TTL: Duration = Duration::from_secs(10);
    const FRESHNESS: Freshness = Freshness { ttl: TTL, stale: Duration::from_secs(3600) };

    fn down() -> ServerError {
        ServerError::Db(sqlx::Error::PoolTimedOut)
    }

    #[tokio::test]
    async fn an_answer_is_reused_within_the_ttl_and_looked_up_again_after_it() {
        let cache = TtlCache::default();
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(ProjectId::new(1)))
        };
        cache.get_or_load("k", FRESHNESS, load).await.unwrap();
        cache.clock.advance(TTL - Duration::from_secs(1));
        cache.get_or_load("k", FRESHNESS, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1, "reused within the TTL");
        cache.clock.advance(Duration::from_secs(2));
        cache.get_or_load("k", FRESHNESS, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2, "looked up again once older than the TTL");
    }

    #[tokio::test]
    async fn a_known_key_stays_valid_while_the_database_is_unreachable_until_stale() {
        let cache = TtlCache::default();
        cache.get_or_load("k", FRESHNESS, || async { Ok(Some(ProjectId::new(7))) }).await.unwrap();
        cache.clock.advance(Duration::from_secs(1800));
        let got = cache.get_or_load("k", FRESHNESS, || async { Err(down()) }).await.unwrap();
        assert_eq!(got, Some(ProjectId::new(7)));
        cache.clock.advance(Duration::from_secs(1801));
        assert!(cache.get_or_load("k", FRESHNESS, || async { Err(down()) }).await.is_err(), "older than stale");
        assert!(cache.get_or_load("never-seen", FRESHNESS, || async { Err(down()) }).await.is_err());
    }

    #[tokio::test]
    async fn after_a_failed_lookup_known_keys_are_answered_without_trying_again() {
        let cache = TtlCache::default();
        cache.get_or_load("k", FRESHNESS, || async { Ok(Some(ProjectId::new(7))) }).await.unwrap();
        cache.clock.advance(TTL * 2);
        let _ = cache.get_or_load("k", FRESHNESS, || async { Err(down()) }).await;
        let tried = AtomicUsize::new(0);
        let try_once = || async {
            tried.fetch_add(1, Ordering::SeqCst);
            Err(down())
        };
        let got = cache.get_or_load("k", FRESHNESS, try_once).await.unwrap();
        assert_eq!((got, tried.load(Ordering::SeqCst)), (Some(ProjectId::new(7)), 0));
        cache.clock.advance(RETRY_AFTER_FAILURE);
        let _ = cache.get_or_load("k", FRESHNESS, try_once).await;
        assert_eq!(tried.load(Ordering::SeqCst), 1, "tried again after the pause");
    }

    #[tokio::test]
    async fn unknown_keys_are_remembered_and_never_push_known_keys_out() {
        let cache = TtlCache::default();
        cache.get_or_load("real", FRESHNESS, || async { Ok(Some(ProjectId::new(3))) }).await.unwrap();
        for i in 0..(MAX_UNKNOWN * 2) {
            cache.get_or_load(&format!("junk-{i}"), FRESHNESS, || async { Ok(None) }).await.unwrap();
        }
        let loads = AtomicUsize::new(0);
        let counted = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        };
        assert_eq!(cache.get_or_load("real", FRESHNESS, counted).await.unwrap(), Some(ProjectId::new(3)));
        let last_junk = format!("junk-{}", MAX_UNKNOWN * 2 - 1);
        assert_eq!(cache.get_or_load(&last_junk, FRESHNESS, counted).await.unwrap(), None);
        assert_eq!(loads.load(Ordering::SeqCst), 0, "neither lookup reached the database");
    }
}
