//! `AppState`: the pools, queue, cache and settings every handler, server function and the
//! worker share (one cheap clone each).

use super::auth::KeyCache;
use super::cache::Cache;
use super::config::Settings;
use super::db;
use super::error::ServerError;
use super::queue::Queue;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    /// PostgreSQL; connections are opened on demand.
    pub db: sqlx::PgPool,
    /// Redis, for the queue, the cache and live updates.
    pub redis: deadpool_redis::Pool,
    pub queue: Queue,
    pub cache: Cache,
    pub keys: KeyCache,
    /// Fan-out of live updates to this process's dashboards.
    pub live: super::live::LiveHub,
    /// Queue entries this process's workers have handled since start (shown by `/health`).
    pub processed: Arc<AtomicU64>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Builds the state without contacting PostgreSQL or Redis (both connect lazily).
    pub fn new(settings: Settings, leptos_options: LeptosOptions) -> Result<Self, ServerError> {
        let db = db::connect_lazy(&settings.database_url, settings.db_max_connections)?;
        Self::with_pool(settings, leptos_options, db)
    }

    /// Like `new`, with a PostgreSQL pool made elsewhere (tests).
    pub fn with_pool(settings: Settings, leptos_options: LeptosOptions, db: sqlx::PgPool) -> Result<Self, ServerError> {
        let mut cfg = deadpool_redis::Config::from_url(settings.redis_url.clone());
        let mut pool_cfg = deadpool_redis::PoolConfig::new(32);
        pool_cfg.timeouts.wait = Some(Duration::from_secs(3));
        pool_cfg.timeouts.create = Some(Duration::from_secs(3));
        pool_cfg.timeouts.recycle = Some(Duration::from_secs(3));
        cfg.pool = Some(pool_cfg);
        let redis = cfg
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| ServerError::Other(format!("redis pool: {e}")))?;
        Ok(Self {
            queue: Queue::new(redis.clone(), &settings.redis_prefix),
            cache: Cache::new(redis.clone(), &settings.redis_prefix, settings.cache_ttl),
            keys: KeyCache::default(),
            live: super::live::LiveHub::default(),
            processed: Arc::default(),
            leptos_options,
            settings: Arc::new(settings),
            db,
            redis,
        })
    }

    /// The Redis pub/sub channel the worker announces processed batches on.
    pub fn updates_channel(&self) -> String {
        format!("{}:updates", self.settings.redis_prefix)
    }
}
