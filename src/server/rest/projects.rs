//! `/api/projects`: the projects a credential sees (a key: its own), creating, renaming and
//! deleting projects, rotating a DSN key, and a project's members. Creating and managing need a
//! personal token with `admin` scope (and the project's admin role); keys keep to their project.

use super::auth::Caller;
use super::error::ApiError;
use super::{audit, json_body};
use crate::model::{Member, Project, ProjectId, ProjectList, ProjectRole, UserId};
use crate::server::auth_failures::ClientAddr;
use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

fn to_project(state: &AppState, row: db::projects::ProjectRow) -> Project {
    let dsn = crate::model::dsn(&state.settings.public_url, &row.public_key, row.id);
    Project { id: row.id, name: row.name, slug: row.slug, dsn }
}

pub(super) fn parse_project_id(raw: &str) -> Result<ProjectId, ApiError> {
    raw.parse::<i64>().map(ProjectId::new).map_err(|_| ApiError::NotFound)
}

/// `GET /api/projects`: a key's project, or every project a token's user sees.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<ProjectList>, ApiError> {
    let projects = match &caller {
        Caller::Key(project) => {
            let row = db::projects::find(&state.db, *project).await?.ok_or(ApiError::NotFound)?;
            vec![to_project(&state, row)]
        }
        Caller::Token(t) => db::projects::grants(&state.db, t.user.user, t.is_admin())
            .await?
            .into_iter()
            .map(|g| to_project(&state, g.project))
            .collect(),
    };
    Ok(Json(ProjectList { projects }))
}

#[derive(serde::Deserialize)]
struct NameBody {
    name: String,
}

/// `POST /api/projects` `{"name"}`: a new project (its own DSN key, an API key shown this once,
/// the caller as its admin); `201`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    body: Body,
) -> Result<Response, ApiError> {
    let t = caller.admin_scope()?;
    let NameBody { name } = json_body(&state, body).await?;
    let name = crate::server::projects::clean_name(&name).map_err(|m| ApiError::invalid("name", m))?;
    let created = crate::server::projects::create(&state, Some(t.user.user), &name)
        .await?
        .ok_or_else(|| ApiError::invalid("name", "another project has this name"))?;
    let p = created.project;
    audit(&state, t, "project_create", Some(p.id), &format!("project {} ({})", p.id, p.name), client).await;
    let project = to_project(&state, p);
    let body = serde_json::json!({
        "id": project.id, "name": project.name, "slug": project.slug, "dsn": project.dsn, "api_key": created.api_key,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `PATCH /api/projects/{id}` `{"name"}`: renames (the slug stays).
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Project>, ApiError> {
    let t = caller.admin_scope()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    let NameBody { name } = json_body(&state, body).await?;
    let name = crate::server::projects::clean_name(&name).map_err(|m| ApiError::invalid("name", m))?;
    if db::projects::name_taken(&state.db, &name, Some(id)).await? {
        return Err(ApiError::invalid("name", "another project has this name"));
    }
    let row = db::projects::rename(&state.db, id, &name).await?.ok_or(ApiError::NotFound)?;
    audit(&state, t, "project_rename", Some(id), &format!("project {id} → {name}"), client).await;
    Ok(Json(to_project(&state, row)))
}

/// `DELETE /api/projects/{id}`: the project with its issues, errors and keys; `204`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = caller.admin_scope()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    if !crate::server::projects::delete(&state, id).await? {
        return Err(ApiError::NotFound);
    }
    audit(&state, t, "project_delete", Some(id), &format!("project {id}"), client).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/projects/{id}/rotate-key`: a new DSN key; SDKs using the old one get 403 (at once
/// on this instance, within `FAULTLINE_KEY_CACHE_TTL_SECS` on others).
pub async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<Json<Project>, ApiError> {
    let project = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    let row = db::projects::rotate_key(&state.db, project).await?.ok_or(ApiError::NotFound)?;
    state.keys.clear();
    if let Caller::Token(t) = &caller {
        audit(&state, t, "dsn_rotate", Some(project), "", client).await;
    }
    tracing::info!(project.id = %project, "DSN key rotated");
    Ok(Json(to_project(&state, row)))
}

/// `GET /api/projects/{id}/members`.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.token()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Viewer).await?;
    let members: Vec<Member> = db::projects::members(&state.db, id).await?;
    Ok(Json(serde_json::json!({ "members": members })))
}

#[derive(serde::Deserialize)]
struct RoleBody {
    role: ProjectRole,
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>().map(UserId::new).map_err(|_| ApiError::NotFound)
}

/// `PUT /api/projects/{id}/members/{user_id}` `{"role"}`: adds the user or changes their role.
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, user)): Path<(String, String)>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = caller.admin_scope()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    let user = db::users::find(&state.db, parse_user_id(&user)?).await?.ok_or(ApiError::NotFound)?;
    let RoleBody { role } = json_body(&state, body).await?;
    db::projects::set_member(&state.db, id, user.id, role).await?;
    audit(&state, t, "member_set", Some(id), &format!("user {} ({}) as {role}", user.id, user.email), client).await;
    crate::server::live::changed(&state, id, &[]).await;
    Ok(Json(serde_json::json!({ "user": user.id, "role": role })))
}

/// `DELETE /api/projects/{id}/members/{user_id}`: `204`.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = caller.admin_scope()?;
    let id = caller.project(&state, Some(parse_project_id(&id)?), ProjectRole::Admin).await?;
    let user = parse_user_id(&user)?;
    if !db::projects::remove_member(&state.db, id, user).await? {
        return Err(ApiError::NotFound);
    }
    audit(&state, t, "member_remove", Some(id), &format!("user {user}"), client).await;
    Ok(StatusCode::NO_CONTENT)
}
