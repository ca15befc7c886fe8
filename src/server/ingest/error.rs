//! `IngestError`: every way a Sentry SDK request can fail, with the status SDKs expect.

use super::decode::DecodeError;
use super::envelope::EnvelopeError;
use crate::server::error::ServerError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no project key: send sentry_key in the query, X-Sentry-Auth, Authorization or the envelope dsn")]
    MissingKey,
    #[error("the request carries two different project keys")]
    ConflictingKeys,
    #[error("unknown project key, or a key of another project")]
    WrongKey,
    #[error("no such project")]
    UnknownProject,
    #[error("unsupported sentry_version {0:?} (7 is supported)")]
    BadVersion(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("malformed envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("the event is not valid JSON: {0}")]
    BadEvent(String),
    #[error("an event item is larger than {limit} bytes")]
    EventTooLarge { limit: usize },
    #[error("rate limit reached; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the queue is full; retry after {retry_after} s")]
    QueueFull { retry_after: u64 },
    /// The database cannot take more (its budget or its disk).
    #[error("{reason}; retry after {retry_after} s")]
    StorageFull { reason: String, retry_after: u64 },
    /// Redis cannot be reached and this instance's spool is full.
    #[error("the server cannot keep more events now; retry after {retry_after} s")]
    SpoolFull { retry_after: u64 },
    /// The memory budget for request bodies, or the decoding pool, is full.
    #[error("the server is overloaded; retry after 1 s")]
    Overloaded,
    #[error("service unavailable")]
    Unavailable(#[source] ServerError),
}

impl From<super::budget::BudgetError> for IngestError {
    fn from(e: super::budget::BudgetError) -> Self {
        use super::budget::BudgetError;
        match e {
            BudgetError::Exhausted => Self::Overloaded,
            BudgetError::TooLarge { limit } => Self::Decode(DecodeError::TooLarge { limit }),
            BudgetError::Read(reason) => Self::Decode(DecodeError::Read(reason)),
        }
    }
}

impl From<ServerError> for IngestError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::QueueFull => Self::QueueFull { retry_after: 60 },
            ServerError::SpoolFull => Self::SpoolFull { retry_after: SPOOL_RETRY_AFTER },
            ServerError::StorageFull(why) => Self::StorageFull {
                reason: format!("the database cannot take more: {why}"),
                retry_after: STORAGE_RETRY_AFTER,
            },
            e => Self::Unavailable(e),
        }
    }
}

/// How long a client is asked to wait while the database cannot take more (retention runs every
/// few minutes).
pub const STORAGE_RETRY_AFTER: u64 = 300;

/// How long a client is asked to wait when the spool is full (Redis is down: it may be back soon).
pub const SPOOL_RETRY_AFTER: u64 = 10;

impl IngestError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::ConflictingKeys => StatusCode::UNAUTHORIZED,
            Self::WrongKey => StatusCode::FORBIDDEN,
            Self::UnknownProject => StatusCode::NOT_FOUND,
            Self::Decode(DecodeError::TooLarge { .. }) | Self::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Overloaded | Self::Decode(DecodeError::Overloaded) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Decode(DecodeError::Unsupported(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadVersion(_) | Self::Decode(_) | Self::Envelope(_) | Self::BadEvent(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } | Self::QueueFull { .. } | Self::SpoolFull { .. } | Self::StorageFull { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::MissingKey | Self::ConflictingKeys => "unauthorized",
            Self::WrongKey => "forbidden",
            Self::UnknownProject => "not_found",
            Self::BadVersion(_) => "bad_version",
            Self::Decode(DecodeError::TooLarge { .. }) | Self::EventTooLarge { .. } => "payload_too_large",
            Self::Decode(DecodeError::Unsupported(_)) => "unsupported_encoding",
            Self::Overloaded | Self::Decode(DecodeError::Overloaded) => "overloaded",
            Self::Decode(_) => "bad_body",
            Self::Envelope(_) => "malformed_envelope",
            Self::BadEvent(_) => "malformed_json",
            Self::RateLimited { .. } => "rate_limited",
            Self::QueueFull { .. } => "queue_full",
            Self::SpoolFull { .. } => "spool_full",
            Self::StorageFull { .. } => "storage_full",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Unavailable(e) = &self {
            tracing::error!(error = %e, "ingest failed");
        } else {
            tracing::debug!(error = %self, status = %status, "ingest rejected");
        }
        let message = self.to_string();
        let code = self.code();
        let body = serde_json::json!({"error": {"code": code, "message": message}, "detail": message});
        let mut res = (status, Json(body)).into_response();
        res.extensions_mut().insert(crate::server::metrics::Refusal(code));
        if let Ok(v) = HeaderValue::from_str(&message) {
            res.headers_mut().insert("x-sentry-error", v);
        }
        if matches!(self, Self::Overloaded | Self::Decode(DecodeError::Overloaded)) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        // A service that cannot be reached: SDKs wait a little before they send again.
        if matches!(self, Self::Unavailable(_)) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(5));
        }
        if let Self::RateLimited { retry_after }
        | Self::QueueFull { retry_after }
        | Self::SpoolFull { retry_after }
        | Self::StorageFull { retry_after, .. } = self
        {
            let h = res.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            // Empty categories: every kind of data, for the whole project.
            // The reason code of every quota but the storage's is Relay's generic one.
            let reason = if code == "storage_full" { code } else { "rate_limited" };
            if let Ok(v) = HeaderValue::from_str(&format!("{retry_after}::project:{reason}")) {
                h.insert("x-sentry-rate-limits", v);
            }
        }
        res
    }
}
