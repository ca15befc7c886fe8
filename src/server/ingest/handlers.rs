//! The envelope and store handlers: authenticate, decode, frame, check, queue, answer the id.

use super::auth::{dsn_key, request_auth};
use super::budget::Reservation;
use super::check::EventHead;
use super::decode::{DecodeError, MAX_DECODED, MAX_RAW, decode, decode_prefix};
use super::envelope::{self, EnvelopeError};
use super::error::IngestError;
use crate::model::{ErrorId, ProjectId, ProjectKey};
use crate::server::auth_failures::ClientAddr;
use crate::server::error::ServerError;
use crate::server::intake;
use crate::server::metrics::Endpoint;
use crate::server::queue::{EventMeta, encode_event};
use crate::server::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
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
/// which is never looked up). A client address past its failed-authentication limit gets 429
/// unless the key is one the cache knows.
async fn check_key(state: &AppState, client: ClientAddr, project: ProjectId, key: &str) -> Result<(), IngestError> {
    let freshness = state.settings.key_freshness();
    if let Some(retry_after) = state.auth_failures.blocked(client) {
        return match state.keys.known_dsn_key(key, freshness) {
            Some(owner) if owner == project => Ok(()),
            _ => Err(IngestError::RateLimited { retry_after }),
        };
    }
    let owner = match ProjectKey::parse(key) {
        Ok(_) => state.keys.project_of_dsn_key(&state.db, freshness, key).await?,
        Err(_) => None,
    };
    if owner == Some(project) {
        Ok(())
    } else {
        state.auth_failures.record(client);
        Err(IngestError::WrongKey)
    }
}

/// An event id in any form the uuid crate reads (32 hex, dashed, any case).
fn parse_event_id(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok())
}

/// An envelope header line longer than this is refused before the body is decoded further.
const HEADER_CAP: usize = 64 * 1024;

/// What the CPU-bound part of a request found: the envelope header's key and event id, and the
/// first event item, checked.
struct Prepared {
    dsn_key: Option<String>,
    header_id: Option<Uuid>,
    event: Option<(Bytes, EventHead)>,
}

/// Decodes, frames and checks an envelope (the CPU-bound part; see `budget`).
fn prepare_envelope(
    encoding: Option<&str>,
    raw: Bytes,
    cap: usize,
    reservation: &mut Reservation,
) -> Result<Prepared, IngestError> {
    let body = decode(encoding, raw, cap, reservation)?;
    let env = envelope::parse(&body)?;
    let dsn_key = env.header.get("dsn").and_then(Value::as_str).and_then(dsn_key);
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
    let event = match event {
        Some(payload) => Some((body.slice_ref(payload), checked(payload)?)),
        None => None,
    };
    Ok(Prepared { dsn_key, header_id, event })
}

/// Checks an event's JSON whole (without building it), so an event the worker could not read is
/// refused now, not lost later.
fn checked(payload: &[u8]) -> Result<EventHead, IngestError> {
    super::check::check(payload).map_err(|e| IngestError::BadEvent(e.to_string()))
}

/// Bodies that decode to at most this much are decoded and checked on the request's own thread
/// (a bounded cost, well under a millisecond); one that decodes to more is decoded again, whole,
/// on the bounded blocking pool.
const INLINE_DECODED: usize = 256 * 1024;

/// Runs `work(cap)`: first inline with `INLINE_DECODED` as the decoding cap when the raw body is
/// no larger, then — if that is too small — on the blocking pool with `full_cap`.
async fn decode_and_check<T: Send + 'static>(
    state: &AppState,
    raw_len: usize,
    full_cap: usize,
    work: impl Fn(usize, &mut Reservation) -> Result<T, IngestError> + Send + 'static,
) -> Result<(T, Reservation), IngestError> {
    if raw_len <= INLINE_DECODED {
        let mut trial = state.budget.reservation();
        match work(INLINE_DECODED.min(full_cap), &mut trial) {
            Err(IngestError::Decode(DecodeError::TooLarge { .. })) if full_cap > INLINE_DECODED => {}
            done => return done.map(|t| (t, trial)),
        }
    }
    let mut reservation = state.budget.reservation();
    let (result, reservation) = state
        .budget
        .offload(move || {
            let result = work(full_cap, &mut reservation);
            (result, reservation)
        })
        .await?;
    result.map(|t| (t, reservation))
}

/// The envelope header's DSN key, read from at most `HEADER_CAP` decoded bytes: lets a request
/// whose key is only inside the envelope be refused before its body is decoded.
fn envelope_key(encoding: Option<&str>, raw: &Bytes) -> Result<Option<String>, IngestError> {
    let prefix = decode_prefix(encoding, raw, HEADER_CAP)?;
    let line = match prefix.iter().position(|&b| b == b'\n') {
        Some(end) => &prefix[..end],
        None if prefix.len() < HEADER_CAP => &prefix[..],
        None => return Err(EnvelopeError::BadHeader(format!("longer than {HEADER_CAP} bytes")).into()),
    };
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty.into());
    }
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(line).map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
    Ok(header.get("dsn").and_then(Value::as_str).and_then(dsn_key))
}

/// `POST /api/{project_id}/envelope/`.
pub async fn envelope(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, IngestError> {
    let project = project_id(&project)?;
    let auth = request_auth(&headers, query.as_deref())?;
    if let Some(key) = &auth.key {
        check_key(&state, client, project, key).await?;
    }
    let encoding = content_encoding(&headers).map(str::to_owned);
    let mut reservation = state.budget.reservation();
    let raw = state.budget.read(body, MAX_RAW, &mut reservation).await?;
    if auth.key.is_none() {
        // Bounded work (the header line at most), so done here.
        match envelope_key(encoding.as_deref(), &raw)? {
            Some(k) => check_key(&state, client, project, &k).await?,
            None => return Err(IngestError::MissingKey),
        }
    }
    let answer = finish_envelope(&state, project, auth.key, encoding, raw).await;
    drop(reservation);
    answer
}

/// The rest of an envelope once its key is known good: decode, frame, check, queue, answer.
async fn finish_envelope(
    state: &AppState,
    project: ProjectId,
    request_key: Option<String>,
    encoding: Option<String>,
    raw: Bytes,
) -> Result<Json<Value>, IngestError> {
    let raw_len = raw.len();
    let (prepared, reservation) = decode_and_check(state, raw_len, MAX_DECODED, move |cap, reservation| {
        prepare_envelope(encoding.as_deref(), raw.clone(), cap, reservation)
    })
    .await?;
    if let (Some(a), Some(k)) = (&request_key, &prepared.dsn_key)
        && a != k
    {
        return Err(IngestError::ConflictingKeys);
    }
    let id = match &prepared.event {
        Some((payload, head)) => {
            Some(accept_event(state, Endpoint::Envelope, project, prepared.header_id, payload, head).await?)
        }
        None => prepared.header_id,
    };
    drop(reservation);
    Ok(Json(id.map_or_else(|| json!({}), |id| json!({ "id": id.simple().to_string() }))))
}

/// `POST /api/{project_id}/store/`: one event as JSON (or an envelope, by content type).
pub async fn store(
    state: State<AppState>,
    client: ClientAddr,
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
        return envelope(state, client, path, query, headers, body).await;
    }
    let (State(state), Path(project), RawQuery(query)) = (state, path, query);
    let project = project_id(&project)?;
    let key = request_auth(&headers, query.as_deref())?.key.ok_or(IngestError::MissingKey)?;
    check_key(&state, client, project, &key).await?;
    let encoding = content_encoding(&headers).map(str::to_owned);
    let mut reservation = state.budget.reservation();
    let raw = state.budget.read(body, MAX_RAW, &mut reservation).await?;
    let ((body, head), decoded) = decode_and_check(&state, raw.len(), MAX_EVENT, move |cap, reservation| {
        let body = decode(encoding.as_deref(), raw.clone(), cap, reservation)?;
        if body.is_empty() {
            return Err(IngestError::BadEvent("the body is empty".into()));
        }
        let head = checked(&body)?;
        Ok((body, head))
    })
    .await?;
    let id = accept_event(&state, Endpoint::Store, project, None, &body, &head).await?;
    drop((reservation, decoded));
    Ok(Json(json!({ "id": id.simple().to_string() })))
}

/// Picks a checked event's id (header, payload, new), applies the rate limit and the queue's
/// limits, and queues it. Transactions are accepted and dropped.
async fn accept_event(
    state: &AppState,
    endpoint: Endpoint,
    project: ProjectId,
    header_id: Option<Uuid>,
    payload: &[u8],
    head: &EventHead,
) -> Result<Uuid, IngestError> {
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
    intake::check_room(state).await?;
    let meta = EventMeta {
        format: crate::server::queue::ENTRY_FORMAT,
        id: ErrorId::generate(),
        project_id: project,
        received_at: Utc::now(),
        event_id,
    };
    intake::hand_over(state, encode_event(&meta, payload)?).await?;
    state.metrics.accepted(endpoint);
    Ok(event_id)
}

/// A fixed one-minute window per project in Redis, shared by every server instance. While Redis
/// cannot be reached and the spool takes events, the limit is not applied (the spool's size is).
async fn check_rate_limit(state: &AppState, project: ProjectId) -> Result<(), IngestError> {
    let limit = state.settings.rate_limit_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let now = Utc::now().timestamp();
    let window = now / 60;
    let key = format!("{}:rl:{}:{}", state.settings.redis_prefix, project, window);
    let counted = async {
        let mut conn = state.redis.get().await?;
        let (count,): (u64,) = redis::pipe()
            .cmd("INCR")
            .arg(&key)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(120)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok::<_, ServerError>(count)
    };
    let count = match counted.await {
        Ok(count) => count,
        Err(e) if e.is_unavailable() && state.spool.is_some() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if count > limit {
        let retry_after = (60 - now % 60).max(1) as u64;
        return Err(IngestError::RateLimited { retry_after });
    }
    Ok(())
}
