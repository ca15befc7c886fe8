//! `ApiError`: every failure of the REST API, answered as `{"error":{"code","message"}}`.

use super::super::error::ServerError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The credential is valid but may not do this (a token's scope, the user's role).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A field is missing or has a value outside its contract; the message names the field.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The queue holds more than `FAULTLINE_MAX_QUEUE_DEPTH` entries.
    #[error("the queue is full; retry after {retry_after} s")]
    QueueFull { retry_after: u64 },
    /// Redis cannot be reached and this instance's spool is full (`FAULTLINE_SPOOL_MAX_BYTES`).
    #[error("the server cannot keep more errors now; retry after {retry_after} s")]
    SpoolFull { retry_after: u64 },
    /// The database cannot take more (its budget or its disk).
    #[error("the database cannot take more: {reason}; retry after {retry_after} s")]
    StorageFull { reason: String, retry_after: u64 },
    /// This client address sent too many wrong keys (`FAULTLINE_AUTH_FAILURES_PER_MINUTE`).
    #[error("too many failed authentications; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },
    /// The memory budget for request bodies, or the parsing pool, is full.
    #[error("the server is overloaded; retry after 1 s")]
    Overloaded,
    /// PostgreSQL or Redis could not be reached.
    #[error("service unavailable")]
    Unavailable(#[source] ServerError),
    #[error("internal error")]
    Internal(#[source] ServerError),
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::QueueFull { .. }
            | Self::SpoolFull { .. }
            | Self::StorageFull { .. }
            | Self::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Invalid { .. } => "invalid_field",
            Self::QueueFull { .. } => "queue_full",
            Self::SpoolFull { .. } => "spool_full",
            Self::StorageFull { .. } => "storage_full",
            Self::TooManyFailures { .. } => "too_many_failures",
            Self::Unavailable(_) => "unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::QueueFull => Self::QueueFull { retry_after: 60 },
            ServerError::SpoolFull => Self::SpoolFull { retry_after: crate::server::ingest::error::SPOOL_RETRY_AFTER },
            ServerError::StorageFull(reason) => {
                Self::StorageFull { reason, retry_after: crate::server::ingest::error::STORAGE_RETRY_AFTER }
            }
            e if e.is_unavailable() => Self::Unavailable(e),
            e => Self::Internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ServerError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Unavailable(e) | Self::Internal(e) => {
                tracing::error!(error = %e, status = %status, "request failed")
            }
            other => tracing::debug!(error = %other, status = %status, "request rejected"),
        }
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        let mut res = (status, Json(body)).into_response();
        res.extensions_mut().insert(crate::server::metrics::Refusal(self.code()));
        match self {
            Self::Overloaded => {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, 1.into());
            }
            Self::Unavailable(_) => {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, 5.into());
            }
            _ => {}
        }
        if let Self::QueueFull { retry_after }
        | Self::SpoolFull { retry_after }
        | Self::StorageFull { retry_after, .. }
        | Self::TooManyFailures { retry_after } = self
        {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after.into());
        }
        res
    }
}
