//! `/api/errors`: report an error (onto the queue), list, read, resolve and delete errors.

use super::auth::{ApiProject, Reader, Triager};
use super::error::ApiError;
use super::params::ListQuery;
use super::{cached_json, read_json_body};
use crate::model::{ErrorId, ErrorList, IssueStatus, Level, Source};
use crate::server::queue::{QueuedEntry, QueuedError};
use crate::server::state::AppState;
use crate::server::{db, intake, live};
use crate::server::{strip_nul, strip_nul_in};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Largest accepted body of `POST /api/errors`.
pub const MAX_BODY: usize = 1024 * 1024;
/// Longest accepted `environment`, `release` and `fingerprint`.
const MAX_SHORT_FIELD: usize = 256;

/// `POST /api/errors`: validates, queues, and answers `202 {"id"}` once the error is on Redis.
pub async fn create(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    body: Body,
) -> Result<Response, ApiError> {
    intake::check_room(&state).await?;
    let value = read_json_body(&state, body, MAX_BODY).await?;
    let received_at = Utc::now();
    let input = validate(value, received_at)?;
    let entry = QueuedError {
        format: crate::server::queue::ENTRY_FORMAT,
        id: ErrorId::generate(),
        project_id: project,
        received_at,
        timestamp: input.timestamp,
        level: input.level,
        message: input.message,
        stack_trace: input.stack_trace,
        context: input.context,
        source: input.source,
        url: input.url,
        environment: input.environment,
        release: input.release,
        fingerprint: input.fingerprint,
        platform: None,
    };
    let id = entry.id;
    intake::hand_over_entry(&state, &QueuedEntry::Api(entry)).await?;
    state.metrics.accepted(crate::server::metrics::Endpoint::Rest);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// The fields of a valid `POST /api/errors` body.
#[derive(Debug, PartialEq)]
pub struct NewErrorInput {
    pub level: Level,
    pub message: String,
    pub stack_trace: Option<String>,
    pub context: Value,
    pub source: Source,
    pub url: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub fingerprint: Option<String>,
}

/// Checks a body against the contract; unknown fields are ignored, `null` means absent.
pub fn validate(value: Value, now: DateTime<Utc>) -> Result<NewErrorInput, ApiError> {
    let Value::Object(mut obj) = value else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let message = optional_string(&mut obj, "message")?.ok_or_else(|| ApiError::invalid("message", "is required"))?;
    if message.trim().is_empty() {
        return Err(ApiError::invalid("message", "must not be empty"));
    }
    let level = match optional_string(&mut obj, "level")? {
        Some(l) => l.parse().map_err(|e: crate::model::ParseEnumError| ApiError::invalid("level", e.to_string()))?,
        None => Level::Error,
    };
    let source = match optional_string(&mut obj, "source")? {
        Some(s) => s.parse().map_err(|e: crate::model::ParseEnumError| ApiError::invalid("source", e.to_string()))?,
        None => Source::Api,
    };
    let timestamp = match optional_string(&mut obj, "timestamp")? {
        Some(t) => DateTime::parse_from_rfc3339(t.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::invalid("timestamp", "must be an RFC 3339 time"))?,
        None => now,
    };
    let context = match obj.remove("context") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(mut v @ Value::Object(_)) => {
            strip_nul_in(&mut v);
            v
        }
        Some(_) => return Err(ApiError::invalid("context", "must be a JSON object")),
    };
    let short = |obj: &mut Map<String, Value>, field: &'static str| -> Result<Option<String>, ApiError> {
        let v = optional_string(obj, field)?;
        if v.as_ref().is_some_and(|s| s.chars().count() > MAX_SHORT_FIELD) {
            return Err(ApiError::invalid(field, format!("must be at most {MAX_SHORT_FIELD} characters")));
        }
        Ok(v.filter(|s| !s.is_empty()))
    };
    Ok(NewErrorInput {
        level,
        message,
        stack_trace: optional_string(&mut obj, "stack_trace")?,
        context,
        source,
        url: optional_string(&mut obj, "url")?,
        timestamp,
        environment: short(&mut obj, "environment")?,
        release: short(&mut obj, "release")?,
        fingerprint: short(&mut obj, "fingerprint")?,
    })
}

/// Takes a string field (absent or `null` → `None`), without NUL characters, which PostgreSQL
/// cannot store.
fn optional_string(obj: &mut Map<String, Value>, field: &'static str) -> Result<Option<String>, ApiError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(strip_nul(s))),
        Some(_) => Err(ApiError::invalid(field, "must be a string")),
    }
}

/// `GET /api/errors`: a filtered page, newest first (cached; see `X-Cache`).
pub async fn list(
    State(state): State<AppState>,
    Reader(project, _): Reader,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ListQuery::parse(raw.as_deref())?;
    cached_json(&state, project, &format!("errors:{}", q.canonical), || async {
        let (errors, total, total_capped) = db::errors::list(&state.db, project, &q.filter, q.page).await?;
        Ok(ErrorList { errors, total, total_capped, limit: q.page.limit, offset: q.page.offset })
    })
    .await
}

pub(super) fn parse_error_id(raw: &str) -> Result<ErrorId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// `GET /api/errors/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Reader(project, _): Reader,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_error_id(&id)?;
    let error = db::errors::get(&state.db, project, id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(error).into_response())
}

/// `PUT /api/errors/{id}/resolve`: resolves the error's issue; answers the error as it now is.
pub async fn resolve(
    State(state): State<AppState>,
    Triager(project, caller): Triager,
    client: crate::server::auth_failures::ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_error_id(&id)?;
    let issue = db::errors::issue_of(&state.db, project, id).await?.ok_or(ApiError::NotFound)?;
    db::issues::set_status(&state.db, project, issue, IssueStatus::Resolved).await?;
    caller.audit(&state, "issue_status", Some(project), &format!("issue {issue}: resolved"), client).await;
    live::changed(&state, project, &[issue]).await;
    let error = db::errors::get(&state.db, project, id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(error).into_response())
}

/// `DELETE /api/errors/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Triager(project, caller): Triager,
    client: crate::server::auth_failures::ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_error_id(&id)?;
    let Some(issue) = db::errors::delete(&state.db, project, id).await? else {
        return Err(ApiError::NotFound);
    };
    caller.audit(&state, "error_delete", Some(project), &format!("error {id} of issue {issue}"), client).await;
    live::changed(&state, project, &[issue]).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(r: Result<NewErrorInput, ApiError>) -> &'static str {
        match r {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn minimal_body_gets_the_defaults() {
        let now = Utc::now();
        let v = validate(json!({"message": "boom"}), now).unwrap();
        assert_eq!(v.level, Level::Error);
        assert_eq!(v.source, Source::Api);
        assert_eq!(v.timestamp, now);
        assert_eq!(v.context, json!({}));
    }

    #[test]
    fn each_invalid_field_is_named() {
        let now = Utc::now();
        assert_eq!(field_of(validate(json!({}), now)), "message");
        assert_eq!(field_of(validate(json!({"message": 3}), now)), "message");
        assert_eq!(field_of(validate(json!({"message": " "}), now)), "message");
        assert_eq!(field_of(validate(json!({"message": "m", "level": "loud"}), now)), "level");
        assert_eq!(field_of(validate(json!({"message": "m", "source": "mobile"}), now)), "source");
        assert_eq!(field_of(validate(json!({"message": "m", "timestamp": "yesterday"}), now)), "timestamp");
        assert_eq!(field_of(validate(json!({"message": "m", "context": [1]}), now)), "context");
        assert_eq!(field_of(validate(json!({"message": "m", "url": 1}), now)), "url");
        assert_eq!(field_of(validate(json!({"message": "m", "fingerprint": ["a"]}), now)), "fingerprint");
        assert_eq!(field_of(validate(json!({"message": "m", "release": "r".repeat(300)}), now)), "release");
        assert_eq!(field_of(validate(json!([1, 2]), now)), "body");
    }

    #[test]
    fn nul_characters_are_removed_everywhere() {
        let v = validate(json!({"message": "a\u{0}b", "context": {"k\u{0}": ["x\u{0}"]}}), Utc::now()).unwrap();
        assert_eq!(v.message, "ab");
        assert_eq!(v.context, json!({"k": ["x"]}));
    }
}
