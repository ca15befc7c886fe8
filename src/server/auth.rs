//! REST authentication: the `X-API-Key` header, resolved to its project through an in-memory
//! cache (short TTL), so most requests never touch PostgreSQL to authenticate.

use super::db;
use super::error::ServerError;
use super::state::AppState;
use crate::model::ProjectId;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A lookup's answer (the project, or `None` for an unknown key) and when it was made.
type Lookup = (Option<ProjectId>, Instant);

/// Cached key lookups by key hash.
#[derive(Clone, Default)]
pub struct KeyCache {
    entries: Arc<Mutex<HashMap<String, Lookup>>>,
}

/// Entries kept at most; past that the cache starts over (bounds memory under key-guessing floods).
const MAX_ENTRIES: usize = 10_000;

impl KeyCache {
    /// The project of `key`, if it is a live API key.
    pub async fn project_of(
        &self,
        db: &sqlx::PgPool,
        ttl: Duration,
        key: &str,
    ) -> Result<Option<ProjectId>, ServerError> {
        let hash = db::api_keys::hash(key);
        if let Ok(entries) = self.entries.lock()
            && let Some((project, at)) = entries.get(&hash)
            && at.elapsed() < ttl
        {
            return Ok(*project);
        }
        let project = db::api_keys::find_project(db, &hash).await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(hash, (project, Instant::now()));
        }
        Ok(project)
    }

    /// Forgets every cached lookup (after a key is revoked here).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// The project whose API key authenticated this request.
#[derive(Clone, Copy, Debug)]
pub struct ApiProject(pub ProjectId);

impl FromRequestParts<AppState> for ApiProject {
    type Rejection = super::rest::error::ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use super::rest::error::ApiError;
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized("missing X-API-Key header"))?;
        match state
            .keys
            .project_of(&state.db, state.settings.key_cache_ttl, key)
            .await?
        {
            Some(project) => Ok(ApiProject(project)),
            None => Err(ApiError::Unauthorized("invalid API key")),
        }
    }
}
