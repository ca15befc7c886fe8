//! `GET /api/projects`: the key's own project with its DSN; rotating its DSN key.

use super::error::ApiError;
use crate::model::{Project, ProjectList};
use crate::server::auth::ApiProject;
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
    let dsn = dsn(&state.settings.public_url, &row.public_key, row.id.get());
    Project { id: row.id, name: row.name, dsn }
}

/// `{scheme}://{key}@{host}[/{path}]/{project}` from the public base URL.
pub fn dsn(public_url: &str, key: &str, project: i64) -> String {
    let base = public_url.trim_end_matches('/');
    match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{key}@{rest}/{project}"),
        None => format!("http://{key}@{base}/{project}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dsn_puts_the_key_before_the_host_and_the_id_last() {
        assert_eq!(
            super::dsn("http://127.0.0.1:3000/", "0123456789abcdef0123456789abcdef", 1),
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:3000/1"
        );
        assert_eq!(super::dsn("https://x.example/sentry", "k", 7), "https://k@x.example/sentry/7");
    }
}
