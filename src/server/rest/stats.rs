//! `GET /api/stats`: the project's totals (cached; see `X-Cache`).

use super::auth::Reader;
use super::cached_json;
use super::error::ApiError;
use crate::server::db;
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::Response;

pub async fn get(State(state): State<AppState>, Reader(project, _): Reader) -> Result<Response, ApiError> {
    cached_json(&state, project, "stats", || async {
        Ok(db::stats::for_project(&state.db, project, chrono::Utc::now()).await?)
    })
    .await
}
