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

/// Remembered lookups (a key → its project, or `None` for an unknown key) with their time, so
/// repeated requests skip PostgreSQL; bounded, since callers can send any number of bad keys.
#[derive(Clone, Default)]
pub struct TtlCache {
    entries: Arc<Mutex<HashMap<String, Lookup>>>,
}

/// A remembered answer and when it was looked up.
type Lookup = (Option<ProjectId>, Instant);

/// Entries kept at most; past that the cache starts over.
const MAX_ENTRIES: usize = 10_000;

impl TtlCache {
    /// The project `key` maps to, from the cache when fresher than `ttl`, else from `load`.
    pub async fn get_or_load<F, Fut>(&self, key: &str, ttl: Duration, load: F) -> Result<Option<ProjectId>, ServerError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<ProjectId>, ServerError>>,
    {
        if let Ok(entries) = self.entries.lock()
            && let Some((project, at)) = entries.get(key)
            && at.elapsed() < ttl
        {
            return Ok(*project);
        }
        let project = load().await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key.to_owned(), (project, Instant::now()));
        }
        Ok(project)
    }

    /// Forgets every cached lookup (after a key is revoked or rotated here).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Key lookups of both kinds: REST API keys (by hash) and public DSN keys.
#[derive(Clone, Default)]
pub struct KeyCache {
    api_keys: TtlCache,
    dsn_keys: TtlCache,
}

impl KeyCache {
    /// The project of `key`, if it is a live API key.
    pub async fn project_of(
        &self,
        db: &sqlx::PgPool,
        ttl: Duration,
        key: &str,
    ) -> Result<Option<ProjectId>, ServerError> {
        let hash = db::api_keys::hash(key);
        self.api_keys.get_or_load(&hash, ttl, || async { Ok(db::api_keys::find_project(db, &hash).await?) }).await
    }

    /// The project whose public DSN key is `key`.
    pub async fn project_of_dsn_key(
        &self,
        db: &sqlx::PgPool,
        ttl: Duration,
        key: &str,
    ) -> Result<Option<ProjectId>, ServerError> {
        self.dsn_keys.get_or_load(key, ttl, || async { Ok(db::projects::find_by_key(db, key).await?) }).await
    }

    /// Forgets every cached lookup.
    pub fn clear(&self) {
        self.api_keys.clear();
        self.dsn_keys.clear();
    }
}

/// The project whose API key authenticated this request.
#[derive(Clone, Copy, Debug)]
pub struct ApiProject(pub ProjectId);

impl FromRequestParts<AppState> for ApiProject {
    type Rejection = super::rest::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        use super::rest::error::ApiError;
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized("missing X-API-Key header"))?;
        match state.keys.project_of(&state.db, state.settings.key_cache_ttl, key).await? {
            Some(project) => Ok(ApiProject(project)),
            None => Err(ApiError::Unauthorized("invalid API key")),
        }
    }
}
