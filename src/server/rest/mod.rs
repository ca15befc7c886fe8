//! The REST API of `/api` (authenticated by `X-API-Key` or a personal token), `/health` and the
//! OpenAPI document.
//!
//! `POST /api/errors` only validates and queues; everything else reads PostgreSQL, with list and
//! stats answers cached in Redis (`X-Cache: hit|miss`).

mod alerts;
pub mod auth;
pub mod error;
mod errors;
mod health;
mod issues;
pub mod params;
mod projects;
mod stats;
mod storage;
mod tokens;
mod users;

pub use errors::{NewErrorInput, validate};
pub use users::page_of as audit_page;

use super::error::ServerError;
use super::state::AppState;
use crate::model::ProjectId;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use error::ApiError;
use serde::Serialize;
use std::future::Future;

/// The contract, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The REST routes; merged into the app's router by `startup`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::get))
        .route("/health/live", get(health::live))
        .route("/api/openapi.json", get(openapi))
        .route("/api/errors", get(errors::list).post(errors::create))
        .route("/api/errors/{id}", get(errors::get).delete(errors::delete))
        .route("/api/errors/{id}/resolve", put(errors::resolve))
        .route("/api/issues", get(issues::list))
        .route("/api/issues/{id}", get(issues::get))
        .route("/api/issues/{id}/resolve", put(issues::resolve))
        .route("/api/issues/{id}/unresolve", put(issues::unresolve))
        .route("/api/issues/{id}/ignore", put(issues::ignore))
        .route("/api/issues/{id}/errors", get(issues::errors))
        .route("/api/stats", get(stats::get))
        .route("/api/projects", get(projects::list).post(projects::create))
        .route("/api/projects/{id}", axum::routing::patch(projects::rename).delete(projects::delete))
        .route("/api/projects/{id}/rotate-key", post(projects::rotate_key))
        .route("/api/projects/{id}/members", get(projects::members))
        .route("/api/projects/{id}/storage", get(storage::get))
        .route("/api/projects/{id}/retention", put(storage::set))
        .route("/api/projects/{id}/members/{user_id}", put(projects::set_member).delete(projects::remove_member))
        .route("/api/users", get(users::list).post(users::invite))
        .route("/api/users/{id}", axum::routing::patch(users::update))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/api/audit", get(users::audit))
        .route("/api/projects/{id}/channels", get(alerts::channels).post(alerts::create_channel))
        .route(
            "/api/projects/{id}/channels/{cid}",
            axum::routing::patch(alerts::update_channel).delete(alerts::delete_channel),
        )
        .route("/api/projects/{id}/channels/{cid}/test", post(alerts::test_channel))
        .route("/api/projects/{id}/channels/{cid}/deliveries", get(alerts::deliveries))
        .route("/api/projects/{id}/channels/{cid}/deliveries/{did}/redeliver", post(alerts::redeliver))
        .route("/api/projects/{id}/rules", get(alerts::rules).post(alerts::create_rule))
        .route("/api/projects/{id}/rules/{rid}", axum::routing::patch(alerts::update_rule).delete(alerts::delete_rule))
        .route("/api/projects/{id}/email-alerts", get(alerts::email_mode).put(alerts::set_email_mode))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Unknown paths under `/api`.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Reads a JSON body of at most `limit` bytes within ingest's memory budget, parsing a large one
/// on the bounded blocking pool.
pub async fn read_json_body(state: &AppState, body: Body, limit: usize) -> Result<serde_json::Value, ApiError> {
    use crate::server::ingest::budget::{BudgetError, INLINE_MAX};
    let mut reservation = state.budget.reservation();
    let bytes = state.budget.read(body, limit, &mut reservation).await.map_err(|e| match e {
        BudgetError::TooLarge { limit } => ApiError::PayloadTooLarge { limit },
        BudgetError::Exhausted => ApiError::Overloaded,
        BudgetError::Read(e) => ApiError::MalformedJson(format!("could not read the body: {e}")),
    })?;
    let small = bytes.len() <= INLINE_MAX;
    let parse = move || serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()));
    let value = if small { parse() } else { state.budget.offload(parse).await.map_err(|_| ApiError::Overloaded)? };
    drop(reservation);
    value
}

/// The longest JSON body of the management routes (projects, members, users, tokens).
const MANAGEMENT_BODY_MAX: usize = 64 * 1024;

/// A management route's JSON body read as `T`; a body of the wrong shape answers `422`.
pub async fn json_body<T: serde::de::DeserializeOwned>(state: &AppState, body: Body) -> Result<T, ApiError> {
    let value = read_json_body(state, body, MANAGEMENT_BODY_MAX).await?;
    serde_json::from_value(value).map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// Appends to the audit log: the token's user did `action` from `client`.
pub async fn audit(
    state: &AppState,
    caller: &auth::TokenCaller,
    action: &str,
    project: Option<ProjectId>,
    target: &str,
    client: crate::server::auth_failures::ClientAddr,
) {
    auth::Caller::Token(caller.clone()).audit(state, action, project, target, client).await;
}

/// Answers from the cache when it holds `what` for the project's current data, else computes,
/// stores and answers; `X-Cache` says which. A cache that cannot be reached is skipped.
pub async fn cached_json<T, F, Fut>(
    state: &AppState,
    project: ProjectId,
    what: &str,
    compute: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let lookup = state.cache.lookup(&[project], what).await;
    if let Ok((Some(body), _)) = &lookup {
        return Ok(json_bytes(body.clone(), "hit"));
    }
    let value = compute().await?;
    let body = serde_json::to_vec(&value).map_err(|e| ApiError::Internal(ServerError::Encode(e)))?;
    match &lookup {
        Ok((_, slot)) => {
            if let Err(e) = state.cache.store(slot, &body).await {
                tracing::warn!(error = %e, "could not cache an answer");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cache unavailable; answering from PostgreSQL"),
    }
    Ok(json_bytes(body, "miss"))
}

fn json_bytes(body: Vec<u8>, cache: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::HeaderName::from_static("x-cache"), HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}
