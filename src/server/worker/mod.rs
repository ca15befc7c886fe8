//! The background worker: Redis Stream → grouping → PostgreSQL, acknowledged after commit.
//!
//! Each step takes up to `batch_size` new entries, groups them, stores the whole batch in one
//! transaction, then invalidates the cache of the projects touched, acknowledges the entries and
//! publishes a `LiveUpdate` per project. A crash anywhere before the acknowledgement leaves the
//! entries pending, so they are delivered again; storing is idempotent, so a redelivered entry is
//! stored once.
//!
//! Failures are contained: while PostgreSQL or Redis cannot be reached the worker keeps retrying
//! the batch in hand and takes no new entries; an entry whose normalising panics is set aside at
//! once; entries other workers left pending are claimed by their delivery count — first-time
//! ones together, repeated ones one at a time (so one that crashes its worker takes no other entry
//! with it), and one delivered `MAX_DELIVERIES` times goes to the dead-letter stream instead of a
//! fourth worker. `supervise` restarts a worker task that panics.

#[cfg(test)]
mod cost_tests;
pub mod grouping;
pub mod limits;
pub mod sentry;
pub mod text;

use super::db::batch::{self, NewError, StoredBatch};
use super::error::ServerError;
use super::queue::{Delivery, ENTRY_FORMAT, QueuedEntry, QueuedError, QueuedEvent};
use super::state::AppState;
use crate::model::{LiveUpdate, ProjectId};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long one read waits for new entries before the loop checks for shutdown again; below the
/// Redis client's 500 ms response timeout.
const BLOCK: Duration = Duration::from_millis(250);
/// Deliveries an entry gets at most: one delivered this often without being stored (its
/// workers crashed or failed each time) is set aside instead of delivered again.
pub const MAX_DELIVERIES: u64 = 3;
/// About how many bytes of queued entries a worker takes at once: past `FAULTLINE_BATCH_SIZE`
/// entries or this, whichever comes first (judged by the recent mean entry size), so a run of
/// large events does not multiply the worker's memory by the batch size.
const BATCH_BYTES: usize = 4 << 20;
/// The longest pause between two tries of a batch while a service is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A worker's name in the consumer group: unique per process and start.
pub fn consumer_name() -> String {
    format!("worker-{}", uuid::Uuid::new_v4().simple())
}

/// Runs `task` until it returns; when it panics, logs the panic and runs a new one (after a
/// pause, so a task that panics at once cannot spin).
pub async fn supervise<F, Fut>(name: &'static str, mut task: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(task()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(task = name, panic = %panic_text(e.into_panic().as_ref()), "task panicked; restarting it");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(_) => return,
        }
    }
}

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Counts this process's running worker loops (for `/health`) while alive, panics included.
struct Running(std::sync::Arc<super::state::WorkerStats>);

impl Running {
    fn new(state: &AppState) -> Self {
        state.workers.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(state.workers.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs until `shutdown` turns true; then it finishes the batch in hand and goes on storing what
/// is queued until the queue is empty or half of `shutdown_timeout` has passed. A batch its
/// services cannot take is left pending for the next worker.
pub async fn run_until_stopped(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let _running = Running::new(&state);
    let consumer = consumer_name();
    tracing::info!(consumer = %consumer, "worker started");
    let mut last_reclaim = Instant::now() - state.settings.claim_idle;
    let mut backoff = Duration::from_millis(100);
    // After the stop, the worker drains what is queued for half the shutdown time at most.
    let mut drain_until: Option<Instant> = None;
    let mut last_batch = 0;
    // The recent mean size of an entry, so a batch of large events takes fewer of them; it starts
    // high (a first read of a tenth of the byte budget's worth) and settles within a few batches.
    let mut entry_size = BATCH_BYTES / 10;
    loop {
        if *shutdown.borrow() {
            let until = *drain_until.get_or_insert_with(|| Instant::now() + state.settings.shutdown_timeout / 2);
            if last_batch == 0 || Instant::now() >= until {
                break;
            }
        }
        let reclaim_due = last_reclaim.elapsed() >= state.settings.claim_idle / 2;
        let step = async {
            state.queue.ensure_group().await?;
            if reclaim_due {
                last_reclaim = Instant::now();
                if !reclaim(&state, &consumer, &mut shutdown).await? {
                    return Ok(false);
                }
            }
            let block = if *shutdown.borrow() { Duration::from_millis(1) } else { BLOCK };
            let count = (BATCH_BYTES / entry_size.max(1)).clamp(1, state.settings.batch_size);
            let batch = state.queue.read(&consumer, count, block).await?;
            last_batch = batch.len();
            if !batch.is_empty() {
                let mean = batch.iter().map(|d| d.raw.as_ref().map_or(0, Vec::len)).sum::<usize>() / batch.len();
                entry_size = (entry_size + mean) / 2;
            }
            Ok::<_, ServerError>(store_until_done(&state, &consumer, &batch, &mut shutdown).await)
        };
        match step.await {
            Ok(true) => backoff = Duration::from_millis(100),
            Ok(false) => break,
            Err(e) => {
                last_batch = 0;
                tracing::error!(error = %e, "worker step failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    tracing::info!(consumer = %consumer, "worker stopped");
}

/// Claims what other workers left pending for `claim_idle` (see the module notes) and stores it;
/// answers false when shutdown came first.
async fn reclaim(state: &AppState, consumer: &str, shutdown: &mut watch::Receiver<bool>) -> Result<bool, ServerError> {
    let idle = state.settings.claim_idle;
    let pending = state.queue.pending_idle(idle, state.settings.batch_size).await?;
    if pending.is_empty() {
        return Ok(true);
    }
    let mut first = Vec::new();
    let mut repeated = Vec::new();
    let mut poison = Vec::new();
    for (id, deliveries) in pending {
        match deliveries {
            0 | 1 => first.push(id),
            n if n < MAX_DELIVERIES => repeated.push(id),
            _ => poison.push(id),
        }
    }
    tracing::warn!(
        first = first.len(),
        repeated = repeated.len(),
        poison = poison.len(),
        "claiming entries other workers left pending"
    );
    let reason = format!("delivered {MAX_DELIVERIES} times without being stored (its workers crashed or failed)");
    for d in state.queue.claim(consumer, idle, &poison).await? {
        tracing::error!(stream.id = %d.stream_id, "entry set aside after {MAX_DELIVERIES} deliveries");
        state.queue.dead_letter(d.raw.as_deref().unwrap_or_default(), &reason).await?;
        state.queue.ack(std::slice::from_ref(&d.stream_id)).await?;
    }
    let batch = state.queue.claim(consumer, idle, &first).await?;
    if !store_until_done(state, consumer, &batch, shutdown).await {
        return Ok(false);
    }
    for id in repeated {
        let one = state.queue.claim(consumer, idle, std::slice::from_ref(&id)).await?;
        if !store_until_done(state, consumer, &one, shutdown).await {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Stores `batch`, trying again with a growing pause while PostgreSQL or Redis cannot be reached
/// (taking no new entries meanwhile). A batch that fails otherwise, or panics, is logged and left
/// pending, to be claimed again (and counted) later. Answers false when shutdown came before the
/// batch could be stored; it then stays pending.
///
/// While it holds a batch this way, the worker keeps its claim on the entries fresh, so other
/// workers do not take them over (and count a delivery) during a long outage.
async fn store_until_done(
    state: &AppState,
    consumer: &str,
    batch: &[Delivery],
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut backoff = Duration::from_millis(50);
    // Refreshes the claim on the batch while it takes long (an attempt waiting for the database,
    // or the pauses between attempts).
    let period = (state.settings.claim_idle / 3).max(Duration::from_millis(10));
    let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let touch = async || {
        let ids: Vec<String> = batch.iter().map(|d| d.stream_id.clone()).collect();
        if let Err(e) = state.queue.touch(consumer, &ids).await {
            tracing::debug!(error = %e, "could not refresh the claim on a held batch");
        }
    };
    loop {
        let attempt = AssertUnwindSafe(process_batch(state, batch)).catch_unwind();
        tokio::pin!(attempt);
        let outcome = loop {
            tokio::select! {
                outcome = &mut attempt => break outcome,
                _ = refresh.tick() => touch().await,
            }
        };
        match outcome {
            Ok(Ok(_)) => return true,
            Ok(Err(e)) if e.is_unavailable() => {
                tracing::warn!(error = %e, entries = batch.len(), "cannot store the batch yet; holding it and trying again");
                if *shutdown.borrow() {
                    return false;
                }
                let pause = tokio::time::sleep(backoff);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => break,
                        _ = refresh.tick() => touch().await,
                        _ = shutdown.changed() => return false,
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, entries = batch.len(), "batch failed; its entries stay pending");
                return true;
            }
            Err(panic) => {
                let ids: Vec<&str> = batch.iter().map(|d| d.stream_id.as_str()).collect();
                tracing::error!(stream.ids = ?ids, panic = %panic_text(panic.as_ref()), "worker panicked on a batch; its entries stay pending");
                return true;
            }
        }
    }
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
        total += process_batch(state, &batch).await?;
    }
}

/// Stores one batch and acknowledges it; answers how many entries were handled. An entry that
/// cannot be decoded, or whose normalising panics, goes to the dead-letter stream. Its log lines
/// carry the batch's id (its first entry's stream id).
pub async fn process_batch(state: &AppState, deliveries: &[Delivery]) -> Result<usize, ServerError> {
    use tracing::Instrument;
    let Some(first) = deliveries.first() else { return Ok(0) };
    let span = tracing::info_span!("batch", batch.id = %first.stream_id, entries = deliveries.len());
    let started = std::time::Instant::now();
    let stored = store_batch(state, deliveries).instrument(span).await?;
    state.metrics.batch(deliveries.len(), stored, started.elapsed());
    Ok(deliveries.len())
}

/// Stores and acknowledges the batch; answers how many errors it stored.
async fn store_batch(state: &AppState, deliveries: &[Delivery]) -> Result<usize, ServerError> {
    let mut ids = Vec::with_capacity(deliveries.len());
    let mut errors = Vec::with_capacity(deliveries.len());
    // The queue entry of each error, to set aside whole if the database refuses the error.
    let mut raws: Vec<&[u8]> = Vec::with_capacity(deliveries.len());
    let mut set_aside: Vec<(&[u8], String)> = Vec::new();
    for d in deliveries {
        let raw = d.raw.as_deref().unwrap_or_default();
        if d.raw.is_none() {
            ids.push(d.stream_id.clone());
            tracing::warn!(stream.id = %d.stream_id, "queue entry without payload skipped");
            continue;
        }
        let row = std::panic::catch_unwind(|| to_row(raw));
        // An entry of a newer format is not acknowledged: a newer worker claims it once it has
        // been idle for the claim time.
        if !matches!(row, Ok(Ok(Row::Newer(_)))) {
            ids.push(d.stream_id.clone());
        }
        match row {
            Ok(Ok(Row::Error(error))) => {
                errors.push(error);
                raws.push(raw);
            }
            Ok(Ok(Row::Newer(format))) => {
                tracing::warn!(stream.id = %d.stream_id, format, "entry written by a newer faultline left for a newer worker");
            }
            Ok(Err(e)) => {
                tracing::error!(stream.id = %d.stream_id, error = %e, "undecodable queue entry set aside");
                set_aside.push((raw, e.to_string()));
            }
            Err(panic) => {
                let text = panic_text(panic.as_ref());
                tracing::error!(stream.id = %d.stream_id, panic = %text, "normalising the entry panicked; set aside");
                set_aside.push((raw, format!("normalising panicked: {text}")));
            }
        }
    }
    let stored = match store_retrying(&state.db, &errors, state.alerts.email_configured()).await {
        Ok(stored) => stored,
        Err(e) if super::error::db_unavailable(&e) => return Err(e.into()),
        Err(e) => {
            // Data the database refuses must not block the rest of the batch: store one by one.
            tracing::error!(error = %e, "batch refused; storing its errors one by one");
            store_one_by_one(state, &errors, &raws).await?
        }
    };
    if stored.alerts > 0 {
        state.alerts.wake();
    }
    let projects: Vec<ProjectId> = {
        let mut p: Vec<ProjectId> = errors.iter().map(|e| e.project_id).collect();
        p.sort();
        p.dedup();
        p
    };
    for (raw, reason) in set_aside {
        state.queue.dead_letter(raw, &reason).await?;
    }
    state.cache.invalidate(&projects).await?;
    state.queue.ack(&ids).await?;
    publish(state, &stored).await;
    state.workers.processed.fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(entries = ids.len(), stored = stored.inserted.len(), "batch stored");
    Ok(stored.inserted.len())
}

/// Stores a batch, at once again (three tries in all) when PostgreSQL aborted it in a conflict with
/// another transaction; otherwise the entries would wait for the reclaim.
async fn store_retrying(db: &sqlx::PgPool, errors: &[NewError], email: bool) -> sqlx::Result<StoredBatch> {
    let mut tries = 1;
    loop {
        match batch::store(db, errors, email).await {
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
        match batch::store(&state.db, std::slice::from_ref(e), state.alerts.email_configured()).await {
            Ok(one) => {
                all.inserted.extend(one.inserted);
                all.new_issues.extend(one.new_issues);
                all.alerts += one.alerts;
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

/// A decoded queue entry.
#[expect(clippy::large_enum_variant, reason = "each row moves into the batch at once; no boxing per event")]
enum Row {
    Error(NewError),
    /// Written by a newer faultline in a format this one cannot read: left for a newer worker.
    Newer(u32),
}

/// Decodes one queue entry (of any earlier format) into the row to store.
fn to_row(raw: &[u8]) -> Result<Row, serde_json::Error> {
    let entry = QueuedEntry::decode(raw)?;
    if entry.format() > ENTRY_FORMAT {
        return Ok(Row::Newer(entry.format()));
    }
    Ok(Row::Error(match entry {
        QueuedEntry::Api(error) => to_new_error(error),
        QueuedEntry::Sentry(event) => sentry_to_new_error(event, raw),
    }))
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
    let detail = crate::server::detail::split(&mut n.context, rest);
    NewError {
        id: q.id,
        project_id: q.project_id,
        event_id: q.event_id,
        timestamp: n.timestamp,
        received_at: q.received_at,
        timestamp_assumed: n.timestamp == q.received_at,
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

/// Turns a queued error into a row to store, computing its grouping (on the whole text) and
/// cutting its texts to their limits.
fn to_new_error(q: QueuedError) -> NewError {
    use limits::truncate_owned;
    let fingerprint =
        grouping::fingerprint(q.fingerprint.as_deref(), q.level, q.source, &q.message, q.stack_trace.as_deref());
    NewError {
        title: grouping::title(&q.message),
        culprit: grouping::culprit(&q.message, q.stack_trace.as_deref(), q.url.as_deref()),
        id: q.id,
        project_id: q.project_id,
        event_id: *q.id.as_uuid(),
        timestamp: limits::timestamp(Some(q.timestamp), q.received_at),
        received_at: q.received_at,
        // A REST error's event id is its own new id: nothing else can repeat it.
        timestamp_assumed: false,
        level: q.level.as_str(),
        message: truncate_owned(q.message, limits::MESSAGE),
        stack_trace: q.stack_trace.map(|s| truncate_owned(s, limits::STACK_TRACE)),
        context: q.context,
        source: q.source.as_str(),
        url: q.url.map(|s| truncate_owned(s, limits::URL)),
        fingerprint,
        environment: q.environment.filter(|s| !s.is_empty()).map(|s| truncate_owned(s, limits::SHORT)),
        release: q.release.filter(|s| !s.is_empty()).map(|s| truncate_owned(s, limits::SHORT)),
        platform: q.platform.map(|s| truncate_owned(s, limits::PLATFORM)),
        detail: None,
    }
}
