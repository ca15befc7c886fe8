//! `/api/users` and `/api/audit` (a token with `admin` scope of an instance admin): list users,
//! invite one (answers the invitation link), change a user's role or access; read the audit log.

use super::auth::Caller;
use super::error::ApiError;
use super::{audit as record, json_body};
use crate::model::{AuditPage, InstanceRole, UserId};
use crate::server::accounts::links::{self, InviteError};
use crate::server::auth_failures::ClientAddr;
use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn user_json(u: &db::users::ListedUser) -> Value {
    json!({
        "id": u.id, "email": u.email, "name": u.name, "role": u.role, "active": u.active,
        "pending": !u.has_password, "created_at": u.created_at,
    })
}

/// `GET /api/users`.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.instance_admin()?;
    let users = db::users::list(&state.db).await?;
    Ok(Json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })))
}

#[derive(serde::Deserialize)]
struct InviteBody {
    email: String,
    #[serde(default = "member")]
    role: InstanceRole,
}

fn member() -> InstanceRole {
    InstanceRole::Member
}

/// `POST /api/users` `{"email", "role"}`: invites; `201 {"id", "invite_url", "emailed"}` (single
/// use, 7 days; emailed to the user when email is configured).
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    body: Body,
) -> Result<Response, ApiError> {
    let t = caller.instance_admin()?;
    let InviteBody { email, role } = json_body(&state, body).await?;
    let (user, link) = links::invite(&state, &email, role, t.user.user).await.map_err(|e| match e {
        InviteError::NotAnEmail => ApiError::invalid("email", "not an email address"),
        InviteError::Taken => ApiError::invalid("email", "this address has an account already"),
        InviteError::Server(e) => e.into(),
    })?;
    record(&state, t, "user_invite", None, &format!("user {user} ({}) as {role}", email.trim()), client).await;
    let body = json!({ "id": user, "invite_url": link.url, "emailed": link.emailed });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(serde::Deserialize)]
struct UpdateBody {
    role: Option<InstanceRole>,
    active: Option<bool>,
}

/// `PATCH /api/users/{id}` `{"role"?, "active"?}`: deactivating ends the user's sessions at once
/// and stops their tokens.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let t = caller.instance_admin()?;
    let id = id.parse::<i64>().map(UserId::new).map_err(|_| ApiError::NotFound)?;
    let UpdateBody { role, active } = json_body(&state, body).await?;
    db::users::find(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    if id == t.user.user && (role.is_some() || active.is_some()) {
        return Err(ApiError::invalid("id", "you cannot change your own role or access"));
    }
    if let Some(role) = role {
        db::users::set_role(&state.db, id, role).await?;
        record(&state, t, "user_role", None, &format!("user {id} → {role}"), client).await;
    }
    if let Some(active) = active {
        let action = links::set_active(&state, id, active).await?.ok_or(ApiError::NotFound)?;
        record(&state, t, action, None, &format!("user {id}"), client).await;
    }
    let user = db::users::listed(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(user_json(&user)))
}

/// The most entries one audit page holds.
const AUDIT_PAGE_MAX: i64 = 500;

/// `GET /api/audit?actor=&project_id=&action=&before=&limit=`: entries newest first.
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    caller.instance_admin()?;
    let mut f = db::audit::AuditFilter::default();
    let mut limit = 100;
    for (k, v) in crate::model::query_pairs(raw.as_deref().unwrap_or("")) {
        let v = v.trim().to_owned();
        if v.is_empty() {
            continue;
        }
        let number = |field: &'static str| v.parse::<i64>().map_err(|_| ApiError::invalid(field, "a whole number"));
        match k.as_str() {
            "actor" => f.actor = Some(v.clone()),
            "action" => f.action = Some(v.clone()),
            "project_id" => f.project = Some(crate::model::ProjectId::new(number("project_id")?)),
            "before" => f.before = Some(number("before")?),
            "limit" => limit = number("limit")?.clamp(1, AUDIT_PAGE_MAX),
            _ => {}
        }
    }
    Ok(Json(page_of(db::audit::list(&state.db, &f, limit).await?, limit)))
}

/// A page of entries, with where the next one starts when this one is full.
pub fn page_of(entries: Vec<crate::model::AuditEntry>, limit: i64) -> AuditPage {
    let next_before = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id)).flatten();
    AuditPage { entries, next_before }
}
