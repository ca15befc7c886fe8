//! `/api/projects/{id}/channels` and `/rules`: a project's alert channels (with their delivery
//! log, test messages and redelivery) and rules, for project admins with an `admin`-scope token;
//! `/api/projects/{id}/email-alerts`: the token user's own email preference.

use super::auth::Caller;
use super::error::ApiError;
use super::{audit, json_body};
use crate::model::{
    ChannelInput, Delivery, EmailMode, NewChannel, ProjectId, ProjectRole, Rule, RuleInput, TestOutcome,
};
use crate::server::alerts::manage::{self, ManageError};
use crate::server::auth_failures::ClientAddr;
use crate::server::db::alerts as db;
use crate::server::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid { field, message } => ApiError::Invalid { field, message },
            ManageError::NotFound => ApiError::NotFound,
            ManageError::Server(e) => e.into(),
        }
    }
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::NotFound)
}

/// The project of the path, when the caller administers it with an admin-scope token.
async fn admin(state: &AppState, caller: &Caller, raw: &str) -> Result<ProjectId, ApiError> {
    caller.admin_scope()?;
    caller.project(state, Some(ProjectId::new(id_of(raw)?)), ProjectRole::Admin).await
}

/// `GET /api/projects/{id}/channels`.
pub async fn channels(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    Ok(Json(serde_json::json!({ "channels": manage::channels(&state, project).await? })))
}

/// `POST /api/projects/{id}/channels`: `201` with the channel (a webhook's `secret` this once).
pub async fn create_channel(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let input: ChannelInput = json_body(&state, body).await?;
    let made = manage::create_channel(&state, project, input).await?;
    let target = format!("{} channel {} ({})", made.channel.kind, made.channel.id, made.channel.name);
    audit(&state, caller.token()?, "channel_create", Some(project), &target, client).await;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// `PATCH /api/projects/{id}/channels/{cid}`.
pub async fn update_channel(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, cid)): Path<(String, String)>,
    body: Body,
) -> Result<Json<NewChannel>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let input: ChannelInput = json_body(&state, body).await?;
    let rotated = input.rotate_secret;
    let changed = manage::update_channel(&state, project, id_of(&cid)?, input).await?;
    let action = if rotated { "channel_secret_rotate" } else { "channel_update" };
    let target = format!("channel {} ({})", changed.channel.id, changed.channel.name);
    audit(&state, caller.token()?, action, Some(project), &target, client).await;
    Ok(Json(changed))
}

/// `DELETE /api/projects/{id}/channels/{cid}`: `204`.
pub async fn delete_channel(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let cid = id_of(&cid)?;
    manage::delete_channel(&state, project, cid).await?;
    audit(&state, caller.token()?, "channel_delete", Some(project), &format!("channel {cid}"), client).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/projects/{id}/channels/{cid}/test`: sends a test message now; answers what the
/// receiver said.
pub async fn test_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, cid)): Path<(String, String)>,
) -> Result<Json<TestOutcome>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let email = caller.token()?.user.email.clone();
    Ok(Json(manage::send_test(&state, project, id_of(&cid)?, Some(&email)).await?))
}

/// `GET /api/projects/{id}/channels/{cid}/deliveries`: newest first, each with its tries;
/// `limit` (default 50, at most 200) and `before` (an RFC 3339 time) page on.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, cid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let cid = id_of(&cid)?;
    db::channel(&state.db, project, cid).await?.ok_or(ApiError::NotFound)?;
    let mut limit = 50;
    let mut before = None;
    for (k, v) in crate::model::query_pairs(query.as_deref().unwrap_or("")) {
        match k.as_ref() {
            "limit" => {
                limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", "must be 1 to 200"))?;
            }
            "before" => {
                before = Some(
                    chrono::DateTime::parse_from_rfc3339(&v)
                        .map_err(|_| ApiError::invalid("before", "must be an RFC 3339 time"))?
                        .with_timezone(&chrono::Utc),
                );
            }
            _ => {}
        }
    }
    let mut conn = state.db.acquire().await.map_err(crate::server::error::ServerError::Db)?;
    let deliveries: Vec<Delivery> = db::deliveries(&mut conn, project, cid, before, limit).await?;
    Ok(Json(serde_json::json!({ "deliveries": deliveries })))
}

/// `POST /api/projects/{id}/channels/{cid}/deliveries/{did}/redeliver`: `202`; the delivery is
/// sent again at once (same id, same payload).
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, cid, did)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let did: uuid::Uuid = did.parse().map_err(|_| ApiError::NotFound)?;
    manage::redeliver(&state, project, id_of(&cid)?, did).await?;
    audit(&state, caller.token()?, "delivery_redeliver", Some(project), &format!("delivery {did}"), client).await;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /api/projects/{id}/rules`.
pub async fn rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    Ok(Json(serde_json::json!({ "rules": db::rules(&state.db, &[project]).await? })))
}

/// `POST /api/projects/{id}/rules`: `201` with the rule.
pub async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let input: RuleInput = json_body(&state, body).await?;
    let rule = manage::create_rule(&state, project, input).await?;
    audit(&state, caller.token()?, "rule_create", Some(project), &format!("rule {} ({})", rule.id, rule.name), client)
        .await;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// `PATCH /api/projects/{id}/rules/{rid}`: fields left out stay.
pub async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, rid)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Rule>, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let input: RuleInput = json_body(&state, body).await?;
    let rule = manage::update_rule(&state, project, id_of(&rid)?, input).await?;
    audit(&state, caller.token()?, "rule_update", Some(project), &format!("rule {} ({})", rule.id, rule.name), client)
        .await;
    Ok(Json(rule))
}

/// `DELETE /api/projects/{id}/rules/{rid}`: `204`.
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientAddr,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = admin(&state, &caller, &id).await?;
    let rid = id_of(&rid)?;
    manage::delete_rule(&state, project, rid).await?;
    audit(&state, caller.token()?, "rule_delete", Some(project), &format!("rule {rid}"), client).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: EmailMode,
}

/// `GET /api/projects/{id}/email-alerts`: how the token's user gets this project's alert emails.
pub async fn email_mode(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = caller.token()?;
    let project = caller.project(&state, Some(ProjectId::new(id_of(&id)?)), ProjectRole::Viewer).await?;
    let mode = db::email_mode(&state.db, t.user.user, project).await?;
    Ok(Json(serde_json::json!({ "mode": mode })))
}

/// `PUT /api/projects/{id}/email-alerts` `{"mode": "every"|"hourly"|"daily"|"none"}`.
pub async fn set_email_mode(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = caller.token()?;
    if t.scope == crate::model::TokenScope::Read {
        return Err(ApiError::Forbidden("the token's scope does not allow this"));
    }
    let project = caller.project(&state, Some(ProjectId::new(id_of(&id)?)), ProjectRole::Viewer).await?;
    let ModeBody { mode } = json_body(&state, body).await?;
    db::set_email_mode(&state.db, t.user.user, project, mode).await?;
    Ok(Json(serde_json::json!({ "mode": mode })))
}
