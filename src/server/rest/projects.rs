//! `GET /api/projects`: the key's own project with its DSN.

use super::error::ApiError;
use crate::model::{Project, ProjectList};
use crate::server::auth::ApiProject;
use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::State;

pub async fn list(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
) -> Result<Json<ProjectList>, ApiError> {
    let row = db::projects::find(&state.db, project)
        .await?
        .ok_or(ApiError::NotFound)?;
    let dsn = dsn(&state.settings.public_url, &row.public_key, row.id.get());
    Ok(Json(ProjectList {
        projects: vec![Project {
            id: row.id,
            name: row.name,
            dsn,
        }],
    }))
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
            super::dsn(
                "http://127.0.0.1:3000/",
                "0123456789abcdef0123456789abcdef",
                1
            ),
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:3000/1"
        );
        assert_eq!(
            super::dsn("https://x.example/sentry", "k", 7),
            "https://k@x.example/sentry/7"
        );
    }
}
