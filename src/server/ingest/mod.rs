//! Sentry's ingest endpoints, for unmodified Sentry SDKs: `POST /api/{project_id}/envelope/` and
//! `/store/` (with or without the trailing slash), authenticated by the project's public key.
//!
//! The path of an event: the key is checked (an in-memory cache in front of one indexed
//! lookup) before the body is read when it is in the query or a header, else from the envelope's
//! header line before the rest is decoded; the body is read and decoded (gzip, deflate, br) under
//! size caps and ingest's memory budget, the envelope framed and the event item checked to be
//! JSON (large or compressed bodies on the bounded blocking pool, see `budget`), the event id
//! picked, the project's rate limit and the queue's depth and size checked, and the raw event
//! appended to the Redis stream. The answer `200 {"id"}` means
//! the event is queued; normalisation and grouping happen in the worker. Other item types
//! (sessions, client reports, transactions, attachments…) are dropped silently, as SDKs expect.

pub mod auth;
pub mod budget;
pub mod check;
pub mod decode;
pub mod envelope;
pub mod error;
mod handlers;

use crate::server::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// The SDK routes, every answer with CORS headers for browser SDKs.
pub fn router() -> Router<AppState> {
    let envelope = post(handlers::envelope).options(preflight);
    let store = post(handlers::store).options(preflight);
    Router::new()
        .route("/api/{project_id}/envelope/", envelope.clone())
        .route("/api/{project_id}/envelope", envelope)
        .route("/api/{project_id}/store/", store.clone())
        .route("/api/{project_id}/store", store)
        .layer(axum::middleware::map_response(with_cors))
}

/// Answers the CORS preflight of browser SDKs that add custom headers.
async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type, \
             authentication, authorization, content-encoding, transfer-encoding, sentry-trace, baggage",
        ),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    res
}

/// Every ingest answer, errors and 429s included, is readable by any origin.
async fn with_cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
    );
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    res
}

/// Folds runs of `/` in the path (`//api/7/envelope/` → `/api/7/envelope/`), as Relay does;
/// applied before routing.
pub async fn fold_slashes(mut req: Request) -> Request {
    let uri = req.uri();
    if uri.path().contains("//") {
        let mut path = String::with_capacity(uri.path().len());
        for c in uri.path().chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        let pq = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(new) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = new;
            }
        }
    }
    req
}
