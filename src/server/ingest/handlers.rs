//! The envelope and store handlers: authenticate, decode, frame, check, queue, answer the id.

use super::auth::{dsn_key, request_auth};
use super::decode::{MAX_DECODED, decode, read_raw};
use super::envelope;
use super::error::IngestError;
use crate::model::{ErrorId, ProjectId, ProjectKey};
use crate::server::queue::{EventMeta, encode_event};
use crate::server::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use chrono::Utc;
use deadpool_redis::redis;
use serde_json::{Value, json};
use uuid::Uuid;

/// Largest event item (after decoding).
pub const MAX_EVENT: usize = 1024 * 1024;

fn project_id(raw: &str) -> Result<ProjectId, IngestError> {
    raw.parse().map_err(|_| IngestError::UnknownProject)
}

fn content_encoding(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok())
}

/// Checks that `key` is the public key of `project`: 403 otherwise (a malformed key included,
/// which is never looked up).
async fn check_key(state: &AppState, project: ProjectId, key: &str) -> Result<(), IngestError> {
    if ProjectKey::parse(key).is_err() {
        return Err(IngestError::WrongKey);
    }
    let owner = state.keys.project_of_dsn_key(&state.db, state.settings.key_cache_ttl, key).await?;
    if owner == Some(project) { Ok(()) } else { Err(IngestError::WrongKey) }
}

/// An event id in any form the uuid crate reads (32 hex, dashed, any case).
fn parse_event_id(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok())
}

/// `POST /api/{project_id}/envelope/`.
pub async fn envelope(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, IngestError> {
    let project = project_id(&project)?;
    let auth = request_auth(&headers, query.as_deref())?;
    if let Some(key) = &auth.key {
        check_key(&state, project, key).await?;
    }
    let body = decode(content_encoding(&headers), read_raw(body).await?, MAX_DECODED)?;
    let env = envelope::parse(&body)?;
    let envelope_key = env.header.get("dsn").and_then(Value::as_str).and_then(dsn_key);
    match (&auth.key, envelope_key) {
        (None, None) => return Err(IngestError::MissingKey),
        (None, Some(k)) => check_key(&state, project, &k).await?,
        (Some(a), Some(k)) if *a != k => return Err(IngestError::ConflictingKeys),
        _ => {}
    }
    let header_id = match env.header.get("event_id") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(parse_event_id(v).ok_or_else(|| IngestError::BadEvent("envelope event_id is not a UUID".into()))?)
        }
    };
    let mut event = None;
    for item in env.items.iter().filter(|i| i.kind() == "event") {
        if item.payload.len() > MAX_EVENT {
            return Err(IngestError::EventTooLarge { limit: MAX_EVENT });
        }
        event.get_or_insert(item.payload);
    }
    let id = match event {
        Some(payload) => Some(accept_event(&state, project, header_id, payload).await?),
        None => header_id,
    };
    Ok(Json(id.map_or_else(|| json!({}), |id| json!({ "id": id.simple().to_string() }))))
}

/// `POST /api/{project_id}/store/`: one event as JSON (or an envelope, by content type).
pub async fn store(
    state: State<AppState>,
    path: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, IngestError> {
    let is_envelope = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-sentry-envelope"));
    if is_envelope {
        return envelope(state, path, query, headers, body).await;
    }
    let (State(state), Path(project), RawQuery(query)) = (state, path, query);
    let project = project_id(&project)?;
    let key = request_auth(&headers, query.as_deref())?.key.ok_or(IngestError::MissingKey)?;
    check_key(&state, project, &key).await?;
    let body = decode(content_encoding(&headers), read_raw(body).await?, MAX_EVENT)?;
    if body.is_empty() {
        return Err(IngestError::BadEvent("the body is empty".into()));
    }
    let id = accept_event(&state, project, None, &body).await?;
    Ok(Json(json!({ "id": id.simple().to_string() })))
}

/// Checks an event item, picks its id (header, payload, new), applies the rate limit and the
/// queue's depth limit, and queues it. Transactions are accepted and dropped.
async fn accept_event(
    state: &AppState,
    project: ProjectId,
    header_id: Option<Uuid>,
    payload: &[u8],
) -> Result<Uuid, IngestError> {
    // Checked whole here (without building it), so an event the worker could not read is refused
    // now, not lost later.
    let head = super::check::check(payload).map_err(|e| IngestError::BadEvent(e.to_string()))?;
    let payload_id = match &head.event_id {
        None => None,
        Some(v) => match parse_event_id(v) {
            Some(id) => Some(id),
            // On /store/ the body's id is the only one: a malformed one is the client's mistake.
            None if header_id.is_none() => return Err(IngestError::BadEvent("event_id is not a UUID".into())),
            None => None,
        },
    };
    let event_id = header_id.or(payload_id).unwrap_or_else(Uuid::new_v4);
    if head.kind.as_deref() == Some("transaction") {
        return Ok(event_id);
    }
    check_rate_limit(state, project).await?;
    if state.queue.depth_cached().await? > state.settings.max_queue_depth {
        return Err(IngestError::QueueFull { retry_after: 60 });
    }
    let meta = EventMeta { id: ErrorId::generate(), project_id: project, received_at: Utc::now(), event_id };
    state.queue.push_encoded(encode_event(&meta, payload)?).await?;
    Ok(event_id)
}

/// A fixed one-minute window per project in Redis, shared by every server instance.
async fn check_rate_limit(state: &AppState, project: ProjectId) -> Result<(), IngestError> {
    let limit = state.settings.rate_limit_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let now = Utc::now().timestamp();
    let window = now / 60;
    let key = format!("{}:rl:{}:{}", state.settings.redis_prefix, project, window);
    let mut conn = state.redis.get().await.map_err(crate::server::error::ServerError::from)?;
    let (count,): (u64,) = redis::pipe()
        .cmd("INCR")
        .arg(&key)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(120)
        .ignore()
        .query_async(&mut conn)
        .await
        .map_err(crate::server::error::ServerError::from)?;
    if count > limit {
        let retry_after = (60 - now % 60).max(1) as u64;
        return Err(IngestError::RateLimited { retry_after });
    }
    Ok(())
}
