//! Live updates for open dashboards: the worker and every change publish a `LiveUpdate` on the
//! Redis channel `<prefix>:updates`; each server process holds one subscription and fans the
//! messages out to its Server-Sent-Events clients (`GET /live`), so updates reach every browser
//! whichever instance it is connected to.

use super::error::ServerError;
use super::state::AppState;
use crate::model::{IssueId, LiveUpdate, ProjectId};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use deadpool_redis::redis;
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The process's fan-out of update messages (JSON text), cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0 }
    }
}

impl LiveHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// Forwards the Redis channel to the hub until `shutdown`, reconnecting after failures.
    pub async fn run(self, redis_url: String, channel: String, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let session = async {
                let client = redis::Client::open(redis_url.as_str())?;
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    if let Ok(text) = msg.get_payload::<String>() {
                        // No receivers is fine: nobody is watching.
                        let _ = self.tx.send(text.into());
                    }
                }
                Ok::<(), redis::RedisError>(())
            };
            tokio::select! {
                result = session => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "live updates: Redis subscription lost; retrying");
                    }
                }
                _ = shutdown.changed() => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
}

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
