//! `Settings`: every environment variable faultline reads, parsed once at start-up.

use std::time::Duration;

/// Server configuration. Each field names its variable and default.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/faultline` (may hold a password).
    pub database_url: Secret,
    /// `REDIS_URL`, default `redis://127.0.0.1:6379` (may hold a password).
    pub redis_url: Secret,
    /// `FAULTLINE_REDIS_PREFIX`, default `faultline`: every Redis key starts with it.
    pub redis_prefix: String,
    /// `FAULTLINE_API_KEY`, default `test-api-key`: ensured to exist for the `default` project.
    /// A development default: set your own (and revoke this one) before exposing the server.
    pub bootstrap_api_key: Secret,
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
    /// `FAULTLINE_KEY_CACHE_TTL_SECS`, default 10: how long ingest trusts a looked-up key (and
    /// remembers an unknown one) before asking PostgreSQL again.
    pub key_cache_ttl: Duration,
    /// `FAULTLINE_KEY_CACHE_STALE_SECS`, default 3600: while PostgreSQL cannot be reached, a key
    /// looked up at most this long ago stays valid, so ingest keeps accepting through an outage.
    pub key_cache_stale: Duration,
    /// `FAULTLINE_AUTH_FAILURES_PER_MINUTE`, default 60 (0: off): wrong or unknown keys one client
    /// address may send per minute; past it its requests get 429 unless their key is known.
    pub auth_failures_per_minute: u32,
    /// `FAULTLINE_DB_MAX_CONNECTIONS`, default 16.
    pub db_max_connections: u32,
    /// `FAULTLINE_RATE_LIMIT_PER_MINUTE`, default 0 (off): Sentry events accepted per project
    /// and minute; past it SDKs get 429 with `Retry-After`.
    pub rate_limit_per_minute: u64,
    /// `FAULTLINE_MAX_QUEUE_DEPTH`, default 1000000: past this backlog, ingest answers 429.
    pub max_queue_depth: u64,
    /// `FAULTLINE_MAX_QUEUE_BYTES`, default 1073741824 (1 GiB): past this much memory in the
    /// queue's stream (as Redis estimates it), ingest answers 429.
    pub max_queue_bytes: u64,
    /// `FAULTLINE_INGEST_MAX_BYTES_IN_FLIGHT`, default 134217728 (128 MiB): request body bytes
    /// (received and decompressed) all ingest requests together may hold; past it, 503.
    pub ingest_max_bytes_in_flight: usize,
    /// `FAULTLINE_INGEST_CPU_TASKS`, default the number of CPUs: bodies decoded and checked at
    /// once on the blocking pool.
    pub ingest_cpu_tasks: usize,
    /// `FAULTLINE_HEALTH_MAX_QUEUE_AGE_SECS`, default 300: `/health` answers 503 when the oldest
    /// entry not yet stored has waited longer.
    pub health_max_queue_age: Duration,
    /// `FAULTLINE_SHUTDOWN_TIMEOUT_SECS`, default 10: after SIGTERM or Ctrl-C, how long the server
    /// waits for in-flight requests and the workers' batches before it exits anyway.
    pub shutdown_timeout: Duration,
    /// `FAULTLINE_SPOOL_DIR`, default `.data/spool`: where this process keeps what ingest accepts
    /// while Redis cannot be reached (one directory per process; it is locked).
    pub spool_dir: Option<std::path::PathBuf>,
    /// `FAULTLINE_SPOOL_MAX_BYTES`, default 1073741824 (1 GiB; 0: no spool, so ingest answers 503
    /// while Redis is down): past it, ingest answers 429 until Redis is back.
    pub spool_max_bytes: u64,
    /// `FAULTLINE_ADMIN_EMAIL` and `FAULTLINE_ADMIN_PASSWORD` (unset by default; both or
    /// neither): an instance admin made sure to exist with this password at every start.
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    /// `FAULTLINE_ADMIN_TOKEN` (unset by default; at least 32 characters): made sure at every
    /// start as an `admin`-scope personal API token of the first admin, for automation.
    pub admin_token: Option<Secret>,
    /// `FAULTLINE_SESSION_IDLE_DAYS`, default 7: a session unused this long has ended.
    pub session_idle: Duration,
    /// `FAULTLINE_SESSION_MAX_DAYS`, default 30: a session ends this long after its sign-in.
    pub session_lifetime: Duration,
    /// `FAULTLINE_SMTP_URL` (unset: no email): `smtp://user:pass@host:587` (STARTTLS),
    /// `smtps://user:pass@host:465` (implicit TLS), `smtp://host:25?tls=none` (a local relay).
    pub smtp_url: Option<Secret>,
    /// `FAULTLINE_EMAIL_FROM`: the sender of alert and account emails (`faultline <alerts@…>`).
    pub email_from: Option<String>,
    /// `FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS`, default `false`: let alert channels post to
    /// private and loopback addresses (a receiver on the same network).
    pub alerts_allow_private: bool,
    /// Errors older than this many days are removed (`FAULTLINE_RETENTION_DAYS`; a project's own
    /// setting overrides it).
    pub retention_days: u32,
    /// A budget for the database's size (`FAULTLINE_MAX_STORAGE`, e.g. `20GB`); the oldest days go
    /// first while it is exceeded.
    pub max_storage: Option<ByteSize>,
    /// Stored events kept per issue, the oldest going first (`FAULTLINE_MAX_EVENTS_PER_ISSUE`;
    /// 0: no limit).
    pub max_events_per_issue: i64,
    /// Resolved issues without stored errors and unseen this many days are removed
    /// (`FAULTLINE_RESOLVED_ISSUE_DAYS`; off by default).
    pub resolved_issue_days: Option<u32>,
    /// Under this much free space on the database's disk (where faultline can see it), ingest
    /// refuses events (`FAULTLINE_MIN_FREE_DISK`).
    pub min_free_disk: ByteSize,
    /// How often retention and the budget run (`FAULTLINE_RETENTION_INTERVAL_SECS`).
    pub retention_interval: Duration,
    /// `FAULTLINE_METRICS_TOKEN` (unset: `GET /metrics` answers 404): the bearer token Prometheus
    /// sends to read the metrics.
    pub metrics_token: Option<Secret>,
}

/// A number of bytes, written as `20GB`, `512MiB`, `1500000` (k, M, G, T as powers of 1000; Ki,
/// Mi, Gi, Ti of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: f64 = number.parse().map_err(|_| format!("{s:?} does not start with a number"))?;
        let unit = unit.trim().trim_end_matches(['B', 'b']);
        let factor: u64 = match unit.to_ascii_lowercase().as_str() {
            "" => 1,
            "k" => 1_000,
            "m" => 1_000_000,
            "g" => 1_000_000_000,
            "t" => 1_000_000_000_000,
            "ki" => 1 << 10,
            "mi" => 1 << 20,
            "gi" => 1 << 30,
            "ti" => 1 << 40,
            _ => return Err(format!("{unit:?} is not a unit (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)")),
        };
        if !number.is_finite() || number < 0.0 {
            return Err(format!("{s:?} is not a size"));
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a size, checked finite and positive"
        )]
        #[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52 bytes")]
        Ok(ByteSize((number * factor as f64) as u64))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::model::format_bytes(self.0).fmt(f)
    }
}

/// The development default of `FAULTLINE_API_KEY`.
pub const DEV_API_KEY: &str = "test-api-key";

/// A setting that must not reach the logs: `Debug` shows `[redacted]`, only `expose` gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
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
            database_url: Secret(
                var("DATABASE_URL").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/faultline".into()),
            ),
            redis_url: Secret(var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into())),
            redis_prefix: var("FAULTLINE_REDIS_PREFIX").unwrap_or_else(|| "faultline".into()),
            bootstrap_api_key: Secret(var("FAULTLINE_API_KEY").unwrap_or_else(|| DEV_API_KEY.into())),
            public_url: var("FAULTLINE_PUBLIC_URL")
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("http://{site_addr}")),
            run_worker: parsed("FAULTLINE_WORKER", true)?,
            workers: parsed::<usize>("FAULTLINE_WORKERS", 3)?.clamp(1, 64),
            batch_size: parsed::<usize>("FAULTLINE_BATCH_SIZE", 100)?.max(1),
            claim_idle: Duration::from_millis(parsed("FAULTLINE_CLAIM_IDLE_MS", 30_000)?),
            cache_ttl: Duration::from_secs(parsed("FAULTLINE_CACHE_TTL_SECS", 30)?),
            key_cache_ttl: Duration::from_secs(parsed("FAULTLINE_KEY_CACHE_TTL_SECS", 10)?),
            key_cache_stale: Duration::from_secs(parsed("FAULTLINE_KEY_CACHE_STALE_SECS", 3600)?),
            auth_failures_per_minute: parsed("FAULTLINE_AUTH_FAILURES_PER_MINUTE", 60)?,
            db_max_connections: parsed("FAULTLINE_DB_MAX_CONNECTIONS", 16)?,
            rate_limit_per_minute: parsed("FAULTLINE_RATE_LIMIT_PER_MINUTE", 0)?,
            max_queue_depth: parsed("FAULTLINE_MAX_QUEUE_DEPTH", 1_000_000)?,
            max_queue_bytes: parsed("FAULTLINE_MAX_QUEUE_BYTES", 1 << 30)?,
            ingest_max_bytes_in_flight: parsed("FAULTLINE_INGEST_MAX_BYTES_IN_FLIGHT", 128 << 20)?,
            ingest_cpu_tasks: parsed("FAULTLINE_INGEST_CPU_TASKS", cpus())?.max(1),
            health_max_queue_age: Duration::from_secs(parsed("FAULTLINE_HEALTH_MAX_QUEUE_AGE_SECS", 300)?),
            shutdown_timeout: Duration::from_secs(parsed("FAULTLINE_SHUTDOWN_TIMEOUT_SECS", 10)?),
            spool_dir: Some(var("FAULTLINE_SPOOL_DIR").unwrap_or_else(|| ".data/spool".into()).into()),
            spool_max_bytes: parsed("FAULTLINE_SPOOL_MAX_BYTES", 1 << 30)?,
            admin_email: var("FAULTLINE_ADMIN_EMAIL").map(|e| e.trim().to_owned()),
            admin_password: std::env::var("FAULTLINE_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()).map(Secret),
            admin_token: std::env::var("FAULTLINE_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()).map(Secret),
            session_idle: Duration::from_secs(parsed::<u64>("FAULTLINE_SESSION_IDLE_DAYS", 7)?.max(1) * 86_400),
            session_lifetime: Duration::from_secs(parsed::<u64>("FAULTLINE_SESSION_MAX_DAYS", 30)?.max(1) * 86_400),
            smtp_url: var("FAULTLINE_SMTP_URL").map(Secret),
            email_from: var("FAULTLINE_EMAIL_FROM"),
            alerts_allow_private: parsed("FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS", false)?,
            retention_days: parsed::<u32>("FAULTLINE_RETENTION_DAYS", 90)?.clamp(1, 36_500),
            max_storage: var("FAULTLINE_MAX_STORAGE")
                .map(|v| v.parse().map_err(|message| ConfigError { name: "FAULTLINE_MAX_STORAGE", message }))
                .transpose()?,
            max_events_per_issue: parsed::<i64>("FAULTLINE_MAX_EVENTS_PER_ISSUE", 10_000)?.max(0),
            resolved_issue_days: var("FAULTLINE_RESOLVED_ISSUE_DAYS")
                .map(|_| parsed::<u32>("FAULTLINE_RESOLVED_ISSUE_DAYS", 0))
                .transpose()?
                .filter(|d| *d > 0),
            min_free_disk: parsed("FAULTLINE_MIN_FREE_DISK", ByteSize(1 << 30))?,
            retention_interval: Duration::from_secs(parsed::<u64>("FAULTLINE_RETENTION_INTERVAL_SECS", 300)?.max(1)),
            metrics_token: std::env::var("FAULTLINE_METRICS_TOKEN").ok().filter(|t| !t.trim().is_empty()).map(Secret),
        })
    }

    /// Settings for tests and tools: local services, the given database and Redis prefix.
    pub fn for_tests(database_url: &str, redis_prefix: &str) -> Self {
        Self {
            database_url: Secret::new(database_url),
            redis_url: Secret(var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into())),
            redis_prefix: redis_prefix.to_owned(),
            bootstrap_api_key: Secret::new(DEV_API_KEY),
            public_url: "http://127.0.0.1:3000".into(),
            run_worker: false,
            workers: 1,
            batch_size: 500,
            claim_idle: Duration::from_millis(30_000),
            cache_ttl: Duration::from_secs(30),
            key_cache_ttl: Duration::from_secs(10),
            key_cache_stale: Duration::from_secs(3600),
            auth_failures_per_minute: 60,
            db_max_connections: 4,
            rate_limit_per_minute: 0,
            max_queue_depth: 1_000_000,
            max_queue_bytes: 1 << 30,
            ingest_max_bytes_in_flight: 128 << 20,
            ingest_cpu_tasks: 2,
            health_max_queue_age: Duration::from_secs(300),
            shutdown_timeout: Duration::from_secs(10),
            spool_dir: None,
            spool_max_bytes: 1 << 30,
            admin_email: None,
            admin_password: None,
            admin_token: None,
            session_idle: Duration::from_secs(7 * 86_400),
            session_lifetime: Duration::from_secs(30 * 86_400),
            smtp_url: None,
            email_from: None,
            alerts_allow_private: true,
            retention_days: 90,
            max_storage: None,
            max_events_per_issue: 10_000,
            resolved_issue_days: None,
            min_free_disk: ByteSize(0),
            retention_interval: Duration::from_secs(300),
            metrics_token: None,
        }
    }
}

impl Settings {
    /// True while the API key is the development default (the banner then shows it).
    pub fn uses_dev_api_key(&self) -> bool {
        self.bootstrap_api_key.expose() == DEV_API_KEY
    }

    /// How long key lookups may be trusted (see `keys`).
    pub fn key_freshness(&self) -> crate::server::keys::Freshness {
        crate::server::keys::Freshness { ttl: self.key_cache_ttl, stale: self.key_cache_stale }
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_print_their_secrets() {
        let mut s = Settings::for_tests("postgres://app:pg-password@db/faultline", "p");
        s.redis_url = Secret::new("redis://:redis-password@cache:6379");
        s.bootstrap_api_key = Secret::new("live-api-key-123");
        s.admin_password = Some(Secret::new("admin-password-456"));
        s.smtp_url = Some(Secret::new("smtp://u:smtp-password-789@mail:587"));
        let printed = format!("{s:?} {s:#?}");
        for secret in ["pg-password", "redis-password", "live-api-key-123", "admin-password-456", "smtp-password-789"] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        assert!(printed.contains("[redacted]"));
        assert!(!s.uses_dev_api_key());
    }

    #[test]
    fn sizes_read_in_decimal_and_binary_units() {
        let size = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(size("20GB"), Ok(20_000_000_000));
        assert_eq!(size("512 MiB"), Ok(512 << 20));
        assert_eq!(size("1.5G"), Ok(1_500_000_000));
        assert_eq!(size("1500000"), Ok(1_500_000));
        assert!(size("twenty").is_err());
        assert!(size("20 parsecs").is_err());
    }
}
