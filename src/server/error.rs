//! `ServerError`: failures of the server's own machinery (PostgreSQL, Redis, encoding).
//!
//! Request layers turn it into their own answer: the REST API into a 503/500 JSON body
//! (`rest::error`), server functions into an opaque `AppError` after logging the detail.

use crate::model::AppError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] deadpool_redis::redis::RedisError),
    #[error("redis pool: {0}")]
    RedisPool(#[from] deadpool_redis::PoolError),
    #[error("encoding: {0}")]
    Encode(serde_json::Error),
    /// The queue holds more than `FAULTLINE_MAX_QUEUE_DEPTH` entries or `FAULTLINE_MAX_QUEUE_BYTES`.
    #[error("the queue is full")]
    QueueFull,
    /// Redis cannot take entries and the spool holds `FAULTLINE_SPOOL_MAX_BYTES` already.
    #[error("redis is unreachable and the spool is full")]
    SpoolFull,
    /// The database cannot take more (see `retention::check`).
    #[error("the database cannot take more: {0}")]
    StorageFull(String),
    #[error("spool: {0}")]
    Spool(std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl ServerError {
    /// True when a backing service could not be reached (as opposed to a bug or bad data).
    pub fn is_unavailable(&self) -> bool {
        match self {
            ServerError::Db(e) => db_unavailable(e),
            ServerError::Redis(e) => e.is_io_error() || e.is_connection_dropped() || e.is_timeout(),
            ServerError::RedisPool(_) | ServerError::Spool(_) => true,
            ServerError::Encode(_)
            | ServerError::Other(_)
            | ServerError::QueueFull
            | ServerError::SpoolFull
            | ServerError::StorageFull(_) => false,
        }
    }
}

impl From<ServerError> for AppError {
    fn from(e: ServerError) -> Self {
        tracing::error!(error = %e, "server function failed");
        AppError::Unavailable
    }
}

/// True when PostgreSQL aborted a transaction in a conflict with another one (deadlock,
/// serialization failure): running it again normally succeeds.
pub fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("40")))
}

/// True when PostgreSQL could not be reached, is shutting down, or aborted the query in a conflict
/// with another transaction — all worth retrying — rather than refusing the query itself.
pub fn db_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        // Class 08: connection exceptions; 57P: operator intervention (shutdown, restart).
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) => true,
        _ => is_conflict(e),
    }
}
