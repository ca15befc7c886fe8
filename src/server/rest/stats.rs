//! `GET /api/stats`: the project's totals (cached; see `X-Cache`).

use super::auth::ApiProject;
use super::cached_json;
use super::error::ApiError;
use crate::server::db;
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::Response;

pub async fn get(State(state): State<AppState>, ApiProject(project): ApiProject) -> Result<Response, ApiError> {
    cached_json(&state, project, "stats", || async { Ok(db::stats::for_project(&state.db, project).await?) }).await
}
