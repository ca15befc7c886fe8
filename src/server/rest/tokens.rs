//! `/api/tokens`: the calling user's personal API tokens — make one (never with more than the
//! calling token's own scope; shown once), list them (without secrets), revoke one.

use super::auth::Caller;
use super::error::ApiError;
use super::{audit, json_body};
use crate::model::{ApiTokenInfo, TokenScope};
use crate::server::auth_failures::ClientAddr;
use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(serde::Deserialize)]
struct CreateBody {
    name: String,
    scope: TokenScope,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `POST /api/tokens` `{"name", "scope", "expires_at"?}`: `201` with the token, this once.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    body: Body,
) -> Result<Response, ApiError> {
    let t = caller.token()?;
    let CreateBody { name, scope, expires_at } = json_body(&state, body).await?;
    if !t.scope.covers(scope) {
        return Err(ApiError::Forbidden("a token cannot make a token with more scope than its own"));
    }
    if expires_at.is_some_and(|at| at <= state.clock.wall()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let made = crate::server::accounts::tokens::create(&state, t.user.user, &name, scope, expires_at).await?;
    let target = format!("token {} ({}, {scope})", made.info.id, made.info.name);
    audit(&state, t, "token_create", None, &target, client).await;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// `GET /api/tokens`: the caller's live tokens, newest first.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    let t = caller.token()?;
    let tokens: Vec<ApiTokenInfo> = db::tokens::list(&state.db, t.user.user, state.clock.wall()).await?;
    Ok(Json(serde_json::json!({ "tokens": tokens })))
}

/// `DELETE /api/tokens/{id}`: `204`; the token stops working at once.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = caller.token()?;
    let id = id.parse::<i64>().map_err(|_| ApiError::NotFound)?;
    if !db::tokens::revoke(&state.db, t.user.user, id).await? {
        return Err(ApiError::NotFound);
    }
    audit(&state, t, "token_revoke", None, &format!("token {id}"), client).await;
    Ok(StatusCode::NO_CONTENT)
}
