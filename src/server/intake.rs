//! Handing accepted entries on: to the Redis stream, or to this instance's spool while Redis
//! cannot take them — and, to keep the order, for as long as the spool holds anything.

use super::error::ServerError;
use super::queue::QueuedEntry;
use super::state::AppState;

/// Whether an entry may be accepted now: `StorageFull` while the database cannot take more,
/// `QueueFull` past the queue's bounds, `SpoolFull` when it would go to a full spool. Cheap (the queue's load is read at most every 500 ms); ingest
/// asks before it reads a body, so what cannot be kept costs little.
pub async fn check_room(state: &AppState) -> Result<(), ServerError> {
    if let Some(why) = state.storage.refusing() {
        return Err(ServerError::StorageFull(why));
    }
    let settings = &state.settings;
    match &state.spool {
        Some(spool) if !spool.is_empty() => {
            let load = spool.load();
            if load.bytes >= load.max_bytes { Err(ServerError::SpoolFull) } else { Ok(()) }
        }
        spool => match state.queue.is_full(settings.max_queue_depth, settings.max_queue_bytes).await {
            Ok(true) => Err(ServerError::QueueFull),
            Ok(false) => Ok(()),
            // Redis does not answer: the spool will take the entry, if there is one.
            Err(e) if e.is_unavailable() && spool.is_some() => Ok(()),
            Err(e) => Err(e),
        },
    }
}

/// Queues one entry, encoding it first (ingest's Sentry path hands over events already encoded).
pub async fn hand_over_entry(state: &AppState, entry: &QueuedEntry) -> Result<(), ServerError> {
    hand_over(state, serde_json::to_vec(entry).map_err(ServerError::Encode)?).await
}

/// Queues one encoded entry: on the stream, or in the spool (see the module's doc). Returns once
/// the entry is on Redis or on this instance's disk.
pub async fn hand_over(state: &AppState, entry: Vec<u8>) -> Result<(), ServerError> {
    let Some(spool) = &state.spool else {
        return state.queue.push_encoded(&entry).await.map(drop);
    };
    if !spool.is_empty() {
        return spool.append(entry).await;
    }
    match state.queue.push_encoded(&entry).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_unavailable() => {
            tracing::warn!(error = %e, "redis cannot take entries; keeping them in the spool until it answers");
            spool.append(entry).await
        }
        Err(e) => Err(e),
    }
}
