//! `Settings`: every environment variable faultline reads, parsed once at start-up.

use std::time::Duration;

/// Server configuration. Each field names its variable and default.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/faultline`.
    pub database_url: String,
    /// `REDIS_URL`, default `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// `FAULTLINE_REDIS_PREFIX`, default `faultline`: every Redis key starts with it.
    pub redis_prefix: String,
    /// `FAULTLINE_API_KEY`, default `test-api-key`: ensured to exist for the `default` project.
    /// A development default: set your own (and revoke this one) before exposing the server.
    pub bootstrap_api_key: String,
    /// `FAULTLINE_PUBLIC_URL`, default `http://<LEPTOS_SITE_ADDR>`: the base URL in DSNs.
    pub public_url: String,
    /// `FAULTLINE_WORKER`, default `true`: run the queue worker in this process.
    pub run_worker: bool,
    /// `FAULTLINE_WORKERS`, default 3: worker tasks in this process (they share the consumer
    /// group, so one stores a batch while another reads the next).
    pub workers: usize,
    /// `FAULTLINE_BATCH_SIZE`, default 100: most entries the worker takes per transaction
    /// (larger batches store no faster here and grow every connection's buffers).
    pub batch_size: usize,
    /// `FAULTLINE_CLAIM_IDLE_MS`, default 30000: a pending entry idle this long is reclaimed.
    pub claim_idle: Duration,
    /// `FAULTLINE_CACHE_TTL_SECS`, default 30: lifetime of cached list and stats answers.
    pub cache_ttl: Duration,
    /// `FAULTLINE_KEY_CACHE_TTL_SECS`, default 10: how long ingest trusts a looked-up API key.
    pub key_cache_ttl: Duration,
    /// `FAULTLINE_DB_MAX_CONNECTIONS`, default 16.
    pub db_max_connections: u32,
    /// `FAULTLINE_RATE_LIMIT_PER_MINUTE`, default 0 (off): Sentry events accepted per project
    /// and minute; past it SDKs get 429 with `Retry-After`.
    pub rate_limit_per_minute: u64,
    /// `FAULTLINE_MAX_QUEUE_DEPTH`, default 1000000: past this backlog, ingest answers 429.
    pub max_queue_depth: u64,
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Settings {
    /// Reads the environment (after `.env`, if present). `site_addr` is Leptos' bind address.
    pub fn from_env(site_addr: std::net::SocketAddr) -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/faultline".into()),
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            redis_prefix: var("FAULTLINE_REDIS_PREFIX").unwrap_or_else(|| "faultline".into()),
            bootstrap_api_key: var("FAULTLINE_API_KEY").unwrap_or_else(|| "test-api-key".into()),
            public_url: var("FAULTLINE_PUBLIC_URL")
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("http://{site_addr}")),
            run_worker: parsed("FAULTLINE_WORKER", true)?,
            workers: parsed::<usize>("FAULTLINE_WORKERS", 3)?.clamp(1, 64),
            batch_size: parsed::<usize>("FAULTLINE_BATCH_SIZE", 100)?.max(1),
            claim_idle: Duration::from_millis(parsed("FAULTLINE_CLAIM_IDLE_MS", 30_000)?),
            cache_ttl: Duration::from_secs(parsed("FAULTLINE_CACHE_TTL_SECS", 30)?),
            key_cache_ttl: Duration::from_secs(parsed("FAULTLINE_KEY_CACHE_TTL_SECS", 10)?),
            db_max_connections: parsed("FAULTLINE_DB_MAX_CONNECTIONS", 16)?,
            rate_limit_per_minute: parsed("FAULTLINE_RATE_LIMIT_PER_MINUTE", 0)?,
            max_queue_depth: parsed("FAULTLINE_MAX_QUEUE_DEPTH", 1_000_000)?,
        })
    }

    /// Settings for tests and tools: local services, the given database and Redis prefix.
    pub fn for_tests(database_url: &str, redis_prefix: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            redis_prefix: redis_prefix.to_owned(),
            bootstrap_api_key: "test-api-key".into(),
            public_url: "http://127.0.0.1:3000".into(),
            run_worker: false,
            workers: 1,
            batch_size: 500,
            claim_idle: Duration::from_millis(30_000),
            cache_ttl: Duration::from_secs(30),
            key_cache_ttl: Duration::from_secs(10),
            db_max_connections: 4,
            rate_limit_per_minute: 0,
            max_queue_depth: 1_000_000,
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => {
            raw.trim().parse().map_err(|e: T::Err| ConfigError { name, message: format!("{raw:?} is not valid: {e}") })
        }
    }
}
