//! `GET /api/projects`: the key's own project with its DSN; rotating its DSN key.

use super::auth::ApiProject;
use super::error::ApiError;
use crate::model::{Project, ProjectList};
use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::{Path, State};

pub async fn list(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
) -> Result<Json<ProjectList>, ApiError> {
    let row = db::projects::find(&state.db, project).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(ProjectList { projects: vec![to_project(&state, row)] }))
}

/// `POST /api/projects/{id}/rotate-key`: a new DSN key; SDKs using the old one get 403 (at once
/// on this instance, within `FAULTLINE_KEY_CACHE_TTL_SECS` on others).
pub async fn rotate_key(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Path(id): Path<String>,
) -> Result<Json<Project>, ApiError> {
    if id.parse::<i64>().ok() != Some(project.get()) {
        return Err(ApiError::NotFound);
    }
    let row = db::projects::rotate_key(&state.db, project).await?.ok_or(ApiError::NotFound)?;
    state.keys.clear();
    tracing::info!(project.id = %project, "DSN key rotated");
    Ok(Json(to_project(&state, row)))
}

fn to_project(state: &AppState, row: db::projects::ProjectRow) -> Project {
    let dsn = crate::model::dsn(&state.settings.public_url, &row.public_key, row.id);
    Project { id: row.id, name: row.name, slug: row.slug, dsn }
}
