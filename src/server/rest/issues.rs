//! `/api/issues`: list, read and triage issues, and list an issue's errors.

use super::auth::{Reader, Triager};
use super::cached_json;
use super::error::ApiError;
use super::params::ListQuery;
use crate::model::{ErrorList, IssueId, IssueList, IssueStatus};
use crate::server::auth_failures::ClientAddr;
use crate::server::state::AppState;
use crate::server::{db, live};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

fn parse_issue_id(raw: &str) -> Result<IssueId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// `GET /api/issues`: a filtered, sorted page (cached; see `X-Cache`).
pub async fn list(
    State(state): State<AppState>,
    Reader(project, _): Reader,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ListQuery::parse(raw.as_deref())?;
    cached_json(&state, project, &format!("issues:{}", q.canonical), || async {
        let (issues, total) = db::issues::list(&state.db, project.into(), &q.filter, q.sort, q.page).await?;
        Ok(IssueList { issues, total, limit: q.page.limit, offset: q.page.offset })
    })
    .await
}

/// `GET /api/issues/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Reader(project, _): Reader,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_issue_id(&id)?;
    let issue = db::issues::get(&state.db, project, id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(issue).into_response())
}

/// Sets an issue's status, with an audit entry naming the caller.
async fn set_status(
    state: AppState,
    Triager(project, caller): Triager,
    client: ClientAddr,
    id: String,
    status: IssueStatus,
) -> Result<Response, ApiError> {
    let id = parse_issue_id(&id)?;
    let issue = db::issues::set_status(&state.db, project, id, status).await?.ok_or(ApiError::NotFound)?;
    caller.audit(&state, "issue_status", Some(project), &format!("issue {id}: {}", status.as_str()), client).await;
    live::changed(&state, project, &[id]).await;
    Ok(Json(issue).into_response())
}

/// `PUT /api/issues/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    project: Triager,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(state, project, client, id, IssueStatus::Resolved).await
}

/// `PUT /api/issues/{id}/unresolve`.
pub async fn unresolve(
    State(state): State<AppState>,
    project: Triager,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(state, project, client, id, IssueStatus::Unresolved).await
}

/// How long `PUT /api/issues/{id}/ignore` ignores: its optional body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreBody {
    until_events: Option<i64>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The longest body of `PUT /api/issues/{id}/ignore`.
const IGNORE_BODY_MAX: usize = 4096;

/// `PUT /api/issues/{id}/ignore`, with an optional `{"until_events": N}` (it comes back when N
/// more events arrived) or `{"until": "<RFC 3339>"}` (it comes back with its first event after
/// that time); no body ignores it until someone changes it.
pub async fn ignore(
    State(state): State<AppState>,
    Triager(project, caller): Triager,
    client: ClientAddr,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    use crate::model::IgnoreUntil;
    let id = parse_issue_id(&id)?;
    let bytes = axum::body::to_bytes(body, IGNORE_BODY_MAX)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit: IGNORE_BODY_MAX })?;
    let body: IgnoreBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        IgnoreBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid("body", e.to_string()))?
    };
    let until = match (body.until_events, body.until) {
        (None, None) => IgnoreUntil::Forever,
        (Some(n), None) if (1..=IgnoreUntil::MAX_EVENTS).contains(&n) => IgnoreUntil::Events(n),
        (Some(_), None) => {
            return Err(ApiError::invalid("until_events", format!("between 1 and {}", IgnoreUntil::MAX_EVENTS)));
        }
        (None, Some(t)) if t > state.clock.wall() => IgnoreUntil::Time(t),
        (None, Some(_)) => return Err(ApiError::invalid("until", "must be in the future")),
        (Some(_), Some(_)) => return Err(ApiError::invalid("body", "until_events or until, not both")),
    };
    let issue = db::issues::ignore(&state.db, project, id, until).await?.ok_or(ApiError::NotFound)?;
    caller.audit(&state, "issue_status", Some(project), &format!("issue {id}: ignored"), client).await;
    live::changed(&state, project, &[id]).await;
    Ok(Json(issue).into_response())
}

/// `GET /api/issues/{id}/errors`: the issue's errors, newest first, with the error filters.
pub async fn errors(
    State(state): State<AppState>,
    Reader(project, _): Reader,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_issue_id(&id)?;
    db::issues::get(&state.db, project, id).await?.ok_or(ApiError::NotFound)?;
    let mut q = ListQuery::parse(raw.as_deref())?;
    q.filter.issue_id = Some(id);
    let (errors, total, total_capped) = db::errors::list(&state.db, project, &q.filter, q.page).await?;
    Ok(Json(ErrorList { errors, total, total_capped, limit: q.page.limit, offset: q.page.offset }).into_response())
}
