//! REST authentication: the `X-API-Key` header, resolved to its project through the key cache
//! (`server::keys`), so most requests never touch PostgreSQL to authenticate.

use crate::model::ProjectId;
use crate::server::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The project whose API key authenticated this request.
#[derive(Clone, Copy, Debug)]
pub struct ApiProject(pub ProjectId);

impl FromRequestParts<AppState> for ApiProject {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        use super::error::ApiError;
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized("missing X-API-Key header"))?;
        let client = crate::server::auth_failures::ClientAddr::of(parts);
        let freshness = state.settings.key_freshness();
        if let Some(retry_after) = state.auth_failures.blocked(client) {
            return match state.keys.known_api_key(key, freshness) {
                Some(project) => Ok(ApiProject(project)),
                None => Err(ApiError::TooManyFailures { retry_after }),
            };
        }
        match state.keys.project_of(&state.db, freshness, key).await? {
            Some(project) => Ok(ApiProject(project)),
            None => {
                state.auth_failures.record(client);
                Err(ApiError::Unauthorized("invalid API key"))
            }
        }
    }
}
