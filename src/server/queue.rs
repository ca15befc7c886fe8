//! The ingest queue: a Redis Stream read by a consumer group (XADD, XREADGROUP, XPENDING, XCLAIM, XACK).
//!
//! Ingest appends one entry per accepted error and answers. Workers in any number of processes
//! read entries through the same consumer group, so each entry goes to one of them; an entry stays
//! pending until its worker acknowledges it after the PostgreSQL commit. Entries a dead worker
//! left pending are claimed by the others once idle for `claim_idle`; Redis counts each entry's
//! deliveries, which the worker reads to set poison aside. Acknowledged entries are deleted from
//! the stream, so its length is the backlog.

use super::error::ServerError;
use crate::model::{ErrorId, Level, ProjectId, Source};
use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, Value};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The consumer group every worker joins.
const GROUP: &str = "workers";
/// The stream field holding the JSON entry.
const FIELD: &str = "e";

/// The format of the entries this build writes, in each entry's `v`. Entries without `v` are
/// format 1 (`{"api": …}` or `{"sentry": …}`); the first releases queued a bare `QueuedError`
/// (format 0). Every worker reads every earlier format; a change that adds a field keeps the
/// format (older workers ignore the field), one that older workers could not read raises it, and
/// they then leave such entries to the newer workers (see `worker`).
pub const ENTRY_FORMAT: u32 = 2;

/// The format of an entry written without `v`.
const fn format_one() -> u32 {
    1
}

/// What ingest puts on the stream: an error already validated and given its id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedError {
    /// The entry's format (`ENTRY_FORMAT` when this build wrote it).
    #[serde(rename = "v", default = "format_one")]
    pub format: u32,
    pub id: ErrorId,
    pub project_id: ProjectId,
    pub received_at: DateTime<Utc>,
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub stack_trace: Option<String>,
    pub context: serde_json::Value,
    pub source: Source,
    pub url: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// Explicit grouping; when absent the worker computes one.
    pub fingerprint: Option<String>,
    pub platform: Option<String>,
}

/// A Sentry event as an SDK sent it (the `event` item's JSON), with what ingest knew.
#[derive(Debug, Serialize, Deserialize)]
pub struct QueuedEvent {
    #[serde(rename = "v", default = "format_one")]
    pub format: u32,
    pub id: ErrorId,
    pub project_id: ProjectId,
    pub received_at: DateTime<Utc>,
    /// The event id SDKs know the event by (envelope header, else payload, else new).
    pub event_id: uuid::Uuid,
    /// The event's JSON as the SDK sent it (checked at ingest and queued without re-encoding;
    /// see `encode_event`), read by the worker in the same pass as the rest of the entry.
    pub event: serde_json::Value,
}

/// What ingest knew about a Sentry event, queued in front of the event's own JSON.
#[derive(Debug, Serialize)]
pub struct EventMeta {
    /// `ENTRY_FORMAT`.
    #[serde(rename = "v")]
    pub format: u32,
    pub id: ErrorId,
    pub project_id: ProjectId,
    pub received_at: DateTime<Utc>,
    pub event_id: uuid::Uuid,
}

/// Encodes the `QueuedEntry::Sentry` entry of `meta` and `event`, copying the event's JSON in as
/// it came. `event` must be one valid JSON value (ingest has checked it), so it is not parsed again.
pub fn encode_event(meta: &EventMeta, event: &[u8]) -> Result<Vec<u8>, ServerError> {
    let mut out = Vec::with_capacity(event.len() + 160);
    out.extend_from_slice(b"{\"sentry\":");
    serde_json::to_writer(&mut out, meta).map_err(ServerError::Encode)?;
    // Reopen the object to add the event as its last field.
    if out.pop() != Some(b'}') {
        return Err(ServerError::Other("event metadata did not encode as an object".into()));
    }
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(event);
    out.extend_from_slice(b"}}");
    Ok(out)
}

/// One stream entry: an error from the REST API or an event from a Sentry SDK.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuedEntry {
    Api(QueuedError),
    Sentry(QueuedEvent),
}

impl QueuedEntry {
    /// The format the entry was written in.
    pub fn format(&self) -> u32 {
        match self {
            Self::Api(e) => e.format,
            Self::Sentry(e) => e.format,
        }
    }

    /// Decodes an entry of any format (a bare `QueuedError` of the first releases included).
    pub fn decode(raw: &[u8]) -> Result<Self, serde_json::Error> {
        match serde_json::from_slice::<Self>(raw) {
            Ok(entry) => Ok(entry),
            Err(e) => serde_json::from_slice::<QueuedError>(raw)
                .map(|q| Self::Api(QueuedError { format: 0, ..q }))
                .map_err(|_| e),
        }
    }
}

impl From<QueuedError> for QueuedEntry {
    fn from(e: QueuedError) -> Self {
        Self::Api(e)
    }
}

/// What Redis says about itself.
#[derive(Clone, Debug)]
pub struct RedisFacts {
    pub version: Option<String>,
    /// `None` when Redis will not say (`CONFIG` disabled, as on some managed services).
    pub persistence: Option<Persistence>,
}

/// How Redis keeps its data on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// `appendonly yes`: every write is logged, so a restart loses at most the last second.
    pub append_only: bool,
    /// RDB save points: a restart loses what came since the last snapshot.
    pub snapshots: bool,
}

/// One entry handed to a worker, still encoded: the worker decodes it (and sets aside what it cannot).
#[derive(Debug)]
pub struct Delivery {
    pub stream_id: String,
    pub raw: Option<Vec<u8>>,
}

/// How stale the depth and size ingest compares with its limits may be.
const DEPTH_MAX_AGE: Duration = Duration::from_millis(500);

/// How much the stream holds: entries, and bytes of memory as Redis estimates them.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueLoad {
    pub depth: u64,
    pub bytes: u64,
}

/// Handle on the stream: cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pool: deadpool_redis::Pool,
    stream: String,
    /// The last load read and when, so ingest does not ask Redis on every request.
    depth_seen: Arc<Mutex<Option<(QueueLoad, Instant)>>>,
    clock: super::clock::Clock,
    /// One connection every ingest request appends through: concurrent appends travel together
    /// (pipelined), which costs Redis and the server far fewer system calls than one connection
    /// per request. Dropped after an error, so the next append opens a fresh one.
    appender: Arc<Mutex<Option<redis::aio::MultiplexedConnection>>>,
}

impl Queue {
    pub fn new(pool: deadpool_redis::Pool, prefix: &str, clock: super::clock::Clock) -> Self {
        Self { pool, stream: format!("{prefix}:events"), depth_seen: Arc::default(), appender: Arc::default(), clock }
    }

    /// The shared appending connection, opened from the pool when there is none.
    async fn appender(&self) -> Result<redis::aio::MultiplexedConnection, ServerError> {
        if let Ok(shared) = self.appender.lock()
            && let Some(conn) = shared.as_ref()
        {
            return Ok(conn.clone());
        }
        let conn = deadpool_redis::Connection::take(self.pool.get().await?);
        if let Ok(mut shared) = self.appender.lock() {
            *shared = Some(conn.clone());
        }
        Ok(conn)
    }

    /// Whether the queue holds more than `max_depth` entries or `max_bytes` of memory (read from
    /// Redis at most every 500 ms): then ingest refuses what it cannot queue.
    pub async fn is_full(&self, max_depth: u64, max_bytes: u64) -> Result<bool, ServerError> {
        let load = self.load_cached().await?;
        Ok(load.depth > max_depth || load.bytes > max_bytes)
    }

    /// The depth and size, read from Redis at most every 500 ms.
    pub async fn load_cached(&self) -> Result<QueueLoad, ServerError> {
        if let Ok(seen) = self.depth_seen.lock()
            && let Some((load, at)) = *seen
            && self.clock.now().saturating_duration_since(at) < DEPTH_MAX_AGE
        {
            return Ok(load);
        }
        let mut conn = self.conn().await?;
        // MEMORY USAGE samples a few of the stream's nodes: cheap, and an estimate.
        let (depth, bytes): (u64, Option<u64>) = redis::pipe()
            .cmd("XLEN")
            .arg(&self.stream)
            .cmd("MEMORY")
            .arg("USAGE")
            .arg(&self.stream)
            .query_async(&mut conn)
            .await?;
        let load = QueueLoad { depth, bytes: bytes.unwrap_or(0) };
        if let Ok(mut seen) = self.depth_seen.lock() {
            *seen = Some((load, self.clock.now()));
        }
        Ok(load)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, ServerError> {
        Ok(self.pool.get().await?)
    }

    /// Creates the stream and the consumer group if they do not exist yet.
    pub async fn ensure_group(&self) -> Result<(), ServerError> {
        let mut conn = self.conn().await?;
        let res: redis::RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends one entry; returns its stream id.
    pub async fn push(&self, entry: &QueuedEntry) -> Result<String, ServerError> {
        self.push_encoded(&serde_json::to_vec(entry).map_err(ServerError::Encode)?).await
    }

    /// Appends entries already encoded, in order, in one round trip (the spool's replay).
    pub async fn push_many(&self, entries: &[Vec<u8>]) -> Result<(), ServerError> {
        let mut pipe = redis::pipe();
        for json in entries {
            pipe.cmd("XADD").arg(&self.stream).arg("*").arg(FIELD).arg(json.as_slice()).ignore();
        }
        let mut conn = self.conn().await?;
        let () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    /// Appends one entry already encoded as JSON (see `encode_event`); returns its stream id.
    pub async fn push_encoded(&self, json: &[u8]) -> Result<String, ServerError> {
        let mut conn = self.appender().await?;
        let res: redis::RedisResult<String> =
            redis::cmd("XADD").arg(&self.stream).arg("*").arg(FIELD).arg(json).query_async(&mut conn).await;
        if res.is_err()
            && let Ok(mut shared) = self.appender.lock()
        {
            *shared = None;
        }
        Ok(res?)
    }

    /// Reads up to `count` new entries for `consumer`, waiting at most `block` for the first.
    pub async fn read(&self, consumer: &str, count: usize, block: Duration) -> Result<Vec<Delivery>, ServerError> {
        let mut conn = self.conn().await?;
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut conn)
            .await?;
        // [[stream, [entry, …]]] or nil on timeout.
        let entries = match reply {
            Value::Array(mut streams) if !streams.is_empty() => match streams.swap_remove(0) {
                Value::Array(mut pair) if pair.len() == 2 => pair.swap_remove(1),
                _ => Value::Nil,
            },
            _ => Value::Nil,
        };
        Ok(parse_entries(entries))
    }

    /// Entries pending (read, not acknowledged) for at least `min_idle`, oldest first, with how
    /// often each has been delivered so far.
    pub async fn pending_idle(&self, min_idle: Duration, count: usize) -> Result<Vec<(String, u64)>, ServerError> {
        let mut conn = self.conn().await?;
        let reply: Value = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("IDLE")
            .arg(min_idle.as_millis() as u64)
            .arg("-")
            .arg("+")
            .arg(count)
            .query_async(&mut conn)
            .await?;
        // [[id, consumer, idle-ms, deliveries], …]
        let Value::Array(items) = reply else {
            return Ok(Vec::new());
        };
        Ok(items
            .iter()
            .filter_map(|item| {
                let Value::Array(f) = item else {
                    return None;
                };
                let id = String::from_utf8(bytes(f.first()?)?.to_vec()).ok()?;
                let deliveries = match f.get(3)? {
                    Value::Int(n) => u64::try_from(*n).ok()?,
                    _ => return None,
                };
                Some((id, deliveries))
            })
            .collect())
    }

    /// Takes over the given entries if they are still idle for `min_idle` (so two workers never
    /// take the same one); answers those still on the stream. Each take counts as a delivery.
    pub async fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        ids: &[String],
    ) -> Result<Vec<Delivery>, ServerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let reply: Value = redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(min_idle.as_millis() as u64)
            .arg(ids)
            .query_async(&mut conn)
            .await?;
        Ok(parse_entries(reply))
    }

    /// Resets the idle time of entries `consumer` holds, without counting a delivery (XCLAIM
    /// JUSTID), so other workers leave them alone while it is still working on them.
    pub async fn touch(&self, consumer: &str, ids: &[String]) -> Result<(), ServerError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let _: Value = redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(ids)
            .arg("JUSTID")
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// How long the oldest entry not yet stored (waiting or pending) has been on the stream, by
    /// the time in its id; `None` when the stream is empty.
    pub async fn oldest_age(&self) -> Result<Option<Duration>, ServerError> {
        let mut conn = self.conn().await?;
        let reply: Value =
            redis::cmd("XRANGE").arg(&self.stream).arg("-").arg("+").arg("COUNT").arg(1).query_async(&mut conn).await?;
        let oldest = parse_entries(reply).into_iter().next();
        let Some(ms) = oldest.and_then(|d| d.stream_id.split('-').next().and_then(|ms| ms.parse::<u64>().ok())) else {
            return Ok(None);
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Ok(Some(now.saturating_sub(Duration::from_millis(ms))))
    }

    /// Acknowledges entries and removes them from the stream, atomically.
    pub async fn ack(&self, stream_ids: &[String]) -> Result<(), ServerError> {
        if stream_ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let _: Value = redis::pipe()
            .atomic()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(stream_ids)
            .cmd("XDEL")
            .arg(&self.stream)
            .arg(stream_ids)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Keeps an entry that can never be stored on the dead-letter stream, for a person to inspect.
    pub async fn dead_letter(&self, raw: &[u8], reason: &str) -> Result<(), ServerError> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("XADD")
            .arg(format!("{}:dead", self.stream))
            .arg("*")
            .arg(FIELD)
            .arg(raw)
            .arg("reason")
            .arg(reason)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Redis's version and how it keeps its data on disk.
    pub async fn redis_facts(&self) -> Result<RedisFacts, ServerError> {
        let mut conn = self.conn().await?;
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await?;
        let version = info.lines().find_map(|l| l.strip_prefix("redis_version:")).map(|v| v.trim().to_owned());
        let config = |name: &'static str| redis::cmd("CONFIG").arg("GET").arg(name).clone();
        let aof: redis::RedisResult<Vec<String>> = config("appendonly").query_async(&mut conn).await;
        let save: redis::RedisResult<Vec<String>> = config("save").query_async(&mut conn).await;
        let persistence = match (aof, save) {
            (Ok(aof), Ok(save)) => Some(Persistence {
                append_only: aof.get(1).is_some_and(|v| v == "yes"),
                snapshots: save.get(1).is_some_and(|v| !v.trim().is_empty()),
            }),
            _ => None,
        };
        Ok(RedisFacts { version, persistence })
    }

    /// Entries a worker has read and not yet acknowledged.
    pub async fn pending(&self) -> Result<u64, ServerError> {
        let mut conn = self.conn().await?;
        let reply: Value = redis::cmd("XPENDING").arg(&self.stream).arg(GROUP).query_async(&mut conn).await?;
        Ok(match reply {
            Value::Array(parts) => match parts.first() {
                Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                _ => 0,
            },
            _ => 0,
        })
    }

    /// Entries on the stream not yet stored (waiting or being processed).
    pub async fn depth(&self) -> Result<u64, ServerError> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("XLEN").arg(&self.stream).query_async(&mut conn).await?)
    }
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Parses `[[id, [field, value, …]], …]`; entries deleted under a pending id come as nil fields.
fn parse_entries(v: Value) -> Vec<Delivery> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Array(mut parts) = item else {
                return None;
            };
            let stream_id = String::from_utf8(bytes(parts.first()?)?.to_vec()).ok()?;
            // The entry's JSON is moved out of the reply, not copied: a batch of large events
            // would otherwise be held twice.
            let raw = match parts.get_mut(1) {
                Some(Value::Array(fields)) => fields.chunks_mut(2).find_map(|kv| match kv {
                    [k, v] if bytes(k) == Some(FIELD.as_bytes()) => match std::mem::replace(v, Value::Nil) {
                        Value::BulkString(b) => Some(b),
                        Value::SimpleString(s) => Some(s.into_bytes()),
                        _ => None,
                    },
                    _ => None,
                }),
                _ => None,
            };
            Some(Delivery { stream_id, raw })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_event_decodes_as_a_sentry_entry_with_the_event_unchanged() {
        let meta = EventMeta {
            format: ENTRY_FORMAT,
            id: ErrorId::generate(),
            project_id: ProjectId::new(7),
            received_at: Utc::now(),
            event_id: uuid::Uuid::new_v4(),
        };
        let event = br#" {"message": "caf\u00e9 \"quoted\"", "extra": {"n": [1, 2.5, null]}} "#;
        let bytes = encode_event(&meta, event).unwrap();
        let Ok(QueuedEntry::Sentry(q)) = serde_json::from_slice::<QueuedEntry>(&bytes) else {
            panic!("not a Sentry entry: {}", String::from_utf8_lossy(&bytes));
        };
        assert_eq!(
            (q.id, q.project_id, q.received_at, q.event_id),
            (meta.id, meta.project_id, meta.received_at, meta.event_id)
        );
        assert_eq!(q.event, serde_json::from_slice::<serde_json::Value>(event).unwrap());
    }
}
