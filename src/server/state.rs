//! `AppState`: the pools, queue, cache and settings every handler, server function and the
//! worker share (a clone is one reference count: axum clones it for every request).

use super::cache::Cache;
use super::config::Settings;
use super::db;
use super::error::ServerError;
use super::keys::KeyCache;
use super::queue::Queue;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `AppState` shares.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    /// PostgreSQL; connections are opened on demand.
    pub db: sqlx::PgPool,
    /// Redis, for the queue, the cache and live updates.
    pub redis: deadpool_redis::Pool,
    pub queue: Queue,
    /// Where ingest keeps entries while Redis cannot take them (`None`: no spool configured).
    pub spool: Option<super::spool::Spool>,
    pub cache: Cache,
    pub keys: KeyCache,
    /// Password hashing, a few at a time off the async threads.
    pub passwords: super::accounts::password::Hasher,
    /// Ingest's memory budget and decoding pool.
    pub budget: super::ingest::budget::Budget,
    /// The time caches and limits read (tests move it forward).
    pub clock: super::clock::Clock,
    /// Failed authentications per client address.
    pub auth_failures: super::auth_failures::AuthFailures,
    /// Fan-out of live updates to this process's dashboards.
    pub live: super::live::hub::LiveHub,
    /// Alert delivery: the outgoing HTTP client, the SMTP relay, the sender's wake-up.
    pub alerts: super::alerts::Alerts,
    /// Whether the database can take more (retention's check; ingest and `/health` read it).
    pub storage: Arc<super::retention::Storage>,
    /// The doctor's checks as `/health` lists them (made again every 15 s at most).
    pub checks: Arc<super::doctor::Checks>,
    /// What this process counts for `GET /metrics`.
    pub metrics: Arc<super::metrics::Metrics>,
    /// What this process's workers are doing (shown by `/health`).
    pub workers: Arc<WorkerStats>,
    /// Turns true once the process begins to shut down: streams end, workers finish.
    pub shutdown: Shutdown,
}

/// The process's shutdown switch, cheap to clone.
#[derive(Clone)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Shutdown {
    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// A receiver that turns true at shutdown.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.subscribe()
    }

    /// Waits until the shutdown has begun.
    pub async fn wait(self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Counters of this process's workers.
#[derive(Default)]
pub struct WorkerStats {
    /// Queue entries handled since start.
    pub processed: AtomicU64,
    /// Worker loops running now.
    pub running: AtomicUsize,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Builds the state without contacting PostgreSQL or Redis (both connect lazily).
    pub fn new(settings: Settings, leptos_options: LeptosOptions) -> Result<Self, ServerError> {
        let db = db::connect_lazy(settings.database_url.expose(), settings.db_max_connections)?;
        Self::with_pool(settings, leptos_options, db)
    }

    /// Like `new`, with a PostgreSQL pool made elsewhere (tests).
    pub fn with_pool(settings: Settings, leptos_options: LeptosOptions, db: sqlx::PgPool) -> Result<Self, ServerError> {
        let mut cfg = deadpool_redis::Config::from_url(settings.redis_url.expose());
        let mut pool_cfg = deadpool_redis::PoolConfig::new(32);
        pool_cfg.timeouts.wait = Some(Duration::from_secs(3));
        pool_cfg.timeouts.create = Some(Duration::from_secs(3));
        pool_cfg.timeouts.recycle = Some(Duration::from_secs(3));
        cfg.pool = Some(pool_cfg);
        let redis = cfg
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| ServerError::Other(format!("redis pool: {e}")))?;
        let clock = super::clock::Clock::default();
        let spool = match &settings.spool_dir {
            Some(dir) if settings.spool_max_bytes > 0 => {
                Some(super::spool::Spool::open(dir, settings.spool_max_bytes)?)
            }
            _ => None,
        };
        Ok(Self(Arc::new(Shared {
            spool,
            passwords: super::accounts::password::Hasher::new((settings.ingest_cpu_tasks / 2).max(1)),
            budget: super::ingest::budget::Budget::new(settings.ingest_max_bytes_in_flight, settings.ingest_cpu_tasks),
            auth_failures: super::auth_failures::AuthFailures::new(settings.auth_failures_per_minute, clock.clone()),
            keys: KeyCache::new(clock.clone()),
            queue: Queue::new(redis.clone(), &settings.redis_prefix, clock.clone()),
            clock,
            cache: Cache::new(redis.clone(), &settings.redis_prefix, settings.cache_ttl),
            live: super::live::hub::LiveHub::default(),
            alerts: super::alerts::Alerts::new(&settings)?,
            workers: Arc::default(),
            metrics: Arc::default(),
            checks: Arc::default(),
            storage: Arc::default(),
            shutdown: Shutdown::default(),
            leptos_options,
            settings: Arc::new(settings),
            db,
            redis,
        })))
    }

    /// The Redis pub/sub channel the worker announces processed batches on.
    pub fn updates_channel(&self) -> String {
        format!("{}:updates", self.settings.redis_prefix)
    }
}
