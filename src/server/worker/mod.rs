//! The background worker: Redis Stream → grouping → PostgreSQL, acknowledged after commit.
//!
//! Each step takes up to `batch_size` entries (first ones other consumers left pending too long,
//! then new ones), groups them, stores the whole batch in one transaction, then invalidates the
//! cache of the projects touched, acknowledges the entries and publishes a `LiveUpdate` per
//! project. A crash anywhere before the acknowledgement leaves the entries pending, so they are
//! delivered again; storing is idempotent, so a redelivered entry is stored once.

pub mod grouping;
pub mod sentry;

use super::db::batch::{self, NewError, StoredBatch};
use super::error::ServerError;
use super::queue::{Delivery, QueuedEntry, QueuedError, QueuedEvent};
use super::state::AppState;
use crate::model::{LiveUpdate, ProjectId};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long one read waits for new entries before the loop checks for shutdown again; below the
/// Redis client's 500 ms response timeout.
const BLOCK: Duration = Duration::from_millis(250);

/// A worker's name in the consumer group: unique per process and start.
pub fn consumer_name() -> String {
    format!("worker-{}", uuid::Uuid::new_v4().simple())
}

/// Runs until `shutdown` turns true; the batch in hand is finished first.
pub async fn run_until_stopped(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let consumer = consumer_name();
    tracing::info!(consumer = %consumer, "worker started");
    let mut last_reclaim = Instant::now() - state.settings.claim_idle;
    let mut backoff = Duration::from_millis(200);
    while !*shutdown.borrow() {
        let reclaim_due = last_reclaim.elapsed() >= state.settings.claim_idle / 2;
        let result = async {
            state.queue.ensure_group().await?;
            if reclaim_due {
                last_reclaim = Instant::now();
                let claimed =
                    state.queue.reclaim(&consumer, state.settings.claim_idle, state.settings.batch_size).await?;
                if !claimed.is_empty() {
                    tracing::warn!(entries = claimed.len(), "reclaimed entries another worker left pending");
                    process_batch(&state, claimed).await?;
                }
            }
            let batch = state.queue.read(&consumer, state.settings.batch_size, BLOCK).await?;
            process_batch(&state, batch).await
        }
        .await;
        match result {
            Ok(_) => backoff = Duration::from_millis(200),
            Err(e) => {
                tracing::error!(error = %e, "worker step failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!(consumer = %consumer, "worker stopped");
}

/// Processes everything on the queue now, then returns how many entries it handled (for tests
/// and tools; the server runs `run_until_stopped`).
pub async fn process_available(state: &AppState, consumer: &str) -> Result<usize, ServerError> {
    state.queue.ensure_group().await?;
    let mut total = 0;
    loop {
        let batch = state.queue.read(consumer, state.settings.batch_size, Duration::from_millis(1)).await?;
        if batch.is_empty() {
            return Ok(total);
        }
        total += process_batch(state, batch).await?;
    }
}

/// Stores one batch and acknowledges it; answers how many entries were handled.
pub async fn process_batch(state: &AppState, deliveries: Vec<Delivery>) -> Result<usize, ServerError> {
    if deliveries.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(deliveries.len());
    let mut errors = Vec::with_capacity(deliveries.len());
    // The queue entry of each error, to set aside whole if the database refuses the error.
    let mut raws: Vec<&[u8]> = Vec::with_capacity(deliveries.len());
    for d in &deliveries {
        let raw = d.raw.as_deref().unwrap_or_default();
        match d.raw.as_deref().map(serde_json::from_slice::<QueuedEntry>) {
            Some(Ok(entry)) => {
                errors.push(match entry {
                    QueuedEntry::Api(error) => to_new_error(error),
                    QueuedEntry::Sentry(event) => sentry_to_new_error(event, raw),
                });
                raws.push(raw);
            }
            Some(Err(e)) => {
                tracing::error!(stream.id = %d.stream_id, error = %e, "undecodable queue entry set aside");
                state.queue.dead_letter(raw, &e.to_string()).await?;
            }
            None => tracing::warn!(stream.id = %d.stream_id, "queue entry without payload skipped"),
        }
        ids.push(d.stream_id.clone());
    }
    let stored = match store_retrying(&state.db, &errors).await {
        Ok(stored) => stored,
        Err(e) if super::error::db_unavailable(&e) => return Err(e.into()),
        Err(e) => {
            // Data the database refuses must not block the rest of the batch: store one by one.
            tracing::error!(error = %e, "batch refused; storing its errors one by one");
            store_one_by_one(state, &errors, &raws).await?
        }
    };
    let projects: Vec<ProjectId> = {
        let mut p: Vec<ProjectId> = errors.iter().map(|e| e.project_id).collect();
        p.sort();
        p.dedup();
        p
    };
    state.cache.invalidate(&projects).await?;
    state.queue.ack(&ids).await?;
    publish(state, &stored).await;
    state.processed.fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(entries = ids.len(), stored = stored.inserted.len(), "batch stored");
    Ok(ids.len())
}

/// Stores a batch, at once again (three tries in all) when PostgreSQL aborted it in a conflict with
/// another transaction; otherwise the entries would wait for the reclaim.
async fn store_retrying(db: &sqlx::PgPool, errors: &[NewError]) -> sqlx::Result<StoredBatch> {
    let mut tries = 1;
    loop {
        match batch::store(db, errors).await {
            Err(e) if tries < 3 && super::error::is_conflict(&e) => {
                tracing::warn!(error = %e, "batch aborted in a conflict; storing it again");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Stores errors one at a time; one the database refuses goes, as its whole queue entry, to the
/// dead-letter stream.
async fn store_one_by_one(state: &AppState, errors: &[NewError], raws: &[&[u8]]) -> Result<StoredBatch, ServerError> {
    let mut all = StoredBatch::default();
    for (e, raw) in errors.iter().zip(raws) {
        match batch::store(&state.db, std::slice::from_ref(e)).await {
            Ok(one) => {
                all.inserted.extend(one.inserted);
                all.new_issues.extend(one.new_issues);
            }
            Err(err) if super::error::db_unavailable(&err) => return Err(err.into()),
            Err(err) => {
                tracing::error!(error.id = %e.id, error = %err, "error refused by the database; set aside");
                state.queue.dead_letter(raw, &err.to_string()).await?;
            }
        }
    }
    Ok(all)
}

/// Announces what a batch stored, one message per project; a lost message only delays the
/// dashboard, so failures are logged and not retried.
async fn publish(state: &AppState, stored: &StoredBatch) {
    let mut per_project: BTreeMap<ProjectId, LiveUpdate> = BTreeMap::new();
    for (project, issue, error) in &stored.inserted {
        let u = per_project.entry(*project).or_insert_with(|| LiveUpdate::empty(*project));
        u.errors.push(*error);
        if !u.issues.contains(issue) {
            u.issues.push(*issue);
        }
    }
    for (project, issue) in &stored.new_issues {
        per_project.entry(*project).or_insert_with(|| LiveUpdate::empty(*project)).new_issues.push(*issue);
    }
    let updates: Vec<LiveUpdate> = per_project.into_values().collect();
    if let Err(e) = super::live::publish(state, &updates).await {
        tracing::warn!(error = %e, "could not publish live update");
    }
}

/// Normalises a queued Sentry event (`raw` is its whole queue entry) into a row to store,
/// grouped by the §6.5 key.
fn sentry_to_new_error(q: QueuedEvent, raw: &[u8]) -> NewError {
    let mut event = q.event;
    // JSON can only carry a NUL character escaped, so most entries need no walk.
    if memchr::memmem::find(raw, b"\\u0000").is_some() {
        crate::server::strip_nul_in(&mut event);
    }
    let (mut n, rest) = sentry::normalize_owned(event, q.received_at);
    let detail = crate::server::db::detail::split(&mut n.context, rest);
    NewError {
        id: q.id,
        project_id: q.project_id,
        event_id: q.event_id,
        timestamp: n.timestamp,
        received_at: q.received_at,
        level: n.level.as_str(),
        fingerprint: crate::server::sha256_hex(&n.grouping_key),
        message: n.message,
        stack_trace: n.stack_trace,
        context: n.context,
        source: n.source.as_str(),
        url: n.url,
        environment: n.environment,
        release: n.release,
        platform: Some(n.platform),
        detail,
        title: n.title,
        culprit: n.culprit,
    }
}

/// Turns a queued error into a row to store, computing its grouping.
fn to_new_error(q: QueuedError) -> NewError {
    let fingerprint =
        grouping::fingerprint(q.fingerprint.as_deref(), q.level, q.source, &q.message, q.stack_trace.as_deref());
    NewError {
        title: grouping::title(&q.message),
        culprit: grouping::culprit(&q.message, q.stack_trace.as_deref(), q.url.as_deref()),
        id: q.id,
        project_id: q.project_id,
        event_id: *q.id.as_uuid(),
        timestamp: q.timestamp,
        received_at: q.received_at,
        level: q.level.as_str(),
        message: q.message,
        stack_trace: q.stack_trace,
        context: q.context,
        source: q.source.as_str(),
        url: q.url,
        fingerprint,
        environment: q.environment,
        release: q.release,
        platform: q.platform,
        detail: None,
    }
}
