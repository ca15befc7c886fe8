//! Live updates for open dashboards: the worker and every change publish a `LiveUpdate` on the
//! Redis channel `<prefix>:updates`; each server process holds one subscription and fans the
//! messages out to its Server-Sent-Events clients (`GET /live`), so updates reach every browser
//! whichever instance it is connected to.

pub mod hub;

pub use hub::LiveHub;

use crate::model::{IssueId, LiveUpdate, ProjectId};
use crate::server::error::ServerError;
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use deadpool_redis::redis;
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// `GET /live`: the update stream of the dashboard (event `update`, data a `LiveUpdate`); it ends
/// when the server shuts down, so open dashboards never hold the shutdown up.
pub async fn stream(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.subscribe();
    let stop = state.shutdown.subscribe();
    let events = futures_util::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
        let received = tokio::select! {
            r = rx.recv() => r,
            _ = stop.wait_for(|s| *s) => return None,
        };
        let event = match received {
            Ok(text) => Event::default().event("update").data(&*text),
            // A slow client missed some: tell it to reload everything.
            Err(broadcast::error::RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, stop)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Publishes updates on the Redis channel.
pub async fn publish(state: &AppState, updates: &[LiveUpdate]) -> Result<(), ServerError> {
    if updates.is_empty() {
        return Ok(());
    }
    let channel = state.updates_channel();
    let mut conn = state.redis.get().await?;
    let mut pipe = redis::pipe();
    for update in updates {
        let json = serde_json::to_string(update).map_err(ServerError::Encode)?;
        pipe.cmd("PUBLISH").arg(&channel).arg(json).ignore();
    }
    let _: () = pipe.query_async(&mut conn).await?;
    Ok(())
}

/// After a change to a project's data outside the worker (a status change, a delete): drops the
/// project's cached answers and tells open dashboards. The change is committed already, so
/// failures are logged (cached answers expire within the cache TTL anyway).
pub async fn changed(state: &AppState, project: ProjectId, issues: &[IssueId]) {
    if let Err(e) = state.cache.invalidate(&[project]).await {
        tracing::error!(error = %e, project.id = %project, "could not invalidate the cache");
    }
    let update = LiveUpdate { project_id: project, status_changed: issues.to_vec(), ..LiveUpdate::empty(project) };
    if let Err(e) = publish(state, &[update]).await {
        tracing::warn!(error = %e, "could not publish a live update");
    }
}
