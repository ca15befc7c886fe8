//! `GET /api/projects/{id}/storage` (what a project holds, the database's size and budget, what
//! retention removed) and `PUT /api/projects/{id}/retention` (a project's own retention).

use super::auth::Caller;
use super::error::ApiError;
use super::projects::parse_project_id;
use super::{audit, json_body};
use crate::model::{ProjectRole, StorageReport};
use crate::server::auth_failures::ClientAddr;
use crate::server::state::AppState;
use crate::server::{db, retention};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};

/// `GET /api/projects/{id}/storage`: a key of the project, or a token of one of its members.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StorageReport>, ApiError> {
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Viewer).await?;
    Ok(Json(retention::report(&state, Some(id)).await?))
}

#[derive(serde::Deserialize)]
struct RetentionBody {
    /// Days (1–36500); `null`: the server's `FAULTLINE_RETENTION_DAYS`.
    days: Option<i32>,
}

/// `PUT /api/projects/{id}/retention` `{"days": n | null}` (project admins, admin-scope token):
/// the project's storage report after the change; the next sweep applies it.
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<StorageReport>, ApiError> {
    let t = caller.admin_scope()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    let RetentionBody { days } = json_body(&state, body).await?;
    if days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(ApiError::invalid("days", "between 1 and 36500, or null for the server's setting"));
    }
    db::storage::set_project_retention(&state.db, id, days).await?;
    let what = days.map_or_else(|| "server default".to_owned(), |d| format!("{d} days"));
    audit(&state, t, "project_retention", Some(id), &format!("project {id}: {what}"), client).await;
    Ok(Json(retention::report(&state, Some(id)).await?))
}
