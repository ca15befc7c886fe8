//! Live updates for open dashboards: the worker and every change publish a `LiveUpdate` on the
//! Redis channel `<prefix>:updates`; each server process holds one subscription and fans the
//! messages out to its Server-Sent-Events clients (`GET /live`), so updates reach every browser
//! whichever instance it is connected to; each stream passes on only the updates of projects
//! its user sees.

pub mod hub;

pub use hub::LiveHub;

use crate::model::{IssueId, LiveUpdate, ProjectId};
use crate::server::accounts::guard::SignedIn;
use crate::server::error::ServerError;
use crate::server::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use deadpool_redis::redis;
use futures_util::Stream;
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// `GET /live`: the update stream of the dashboard (event `update`, data a `LiveUpdate`), with
/// only the updates of projects the signed-in user sees. It ends when the server shuts down, so
/// open dashboards never hold the shutdown up, and when the user's session ends.
pub async fn stream(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.subscribe();
    let stop = state.shutdown.subscribe();
    let watcher = Watcher { state, me, projects: HashSet::new(), checked: None };
    let events = futures_util::stream::unfold((rx, stop, watcher), |(mut rx, mut stop, mut watcher)| async move {
        loop {
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = stop.wait_for(|s| *s) => return None,
            };
            let event = match received {
                Ok(text) => match watcher.may_see(&text).await {
                    Some(true) => Event::default().event("update").data(&*text),
                    Some(false) => continue,
                    None => return None,
                },
                // A slow client missed some: tell it to reload everything.
                Err(broadcast::error::RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, stop, watcher)));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// How long a stream trusts what it last read of its user's session and projects.
const RECHECK: Duration = Duration::from_secs(5);

/// What one stream's user may see, read again at most every `RECHECK` as updates arrive, so a
/// removed membership or an ended session stops the updates within seconds.
struct Watcher {
    state: AppState,
    me: SignedIn,
    projects: HashSet<ProjectId>,
    checked: Option<std::time::Instant>,
}

#[derive(serde::Deserialize)]
struct UpdateProject {
    project_id: ProjectId,
}

impl Watcher {
    /// Whether the update (a `LiveUpdate` as JSON) concerns a project the user sees; `None` when
    /// their session has ended. Unreadable updates are not passed on.
    async fn may_see(&mut self, update: &str) -> Option<bool> {
        if self.checked.is_none_or(|at| at.elapsed() >= RECHECK) {
            match self.read().await {
                Ok(Some(projects)) => {
                    self.projects = projects;
                    self.checked = Some(std::time::Instant::now());
                }
                Ok(None) => return None,
                // PostgreSQL is away: keep to what was last read.
                Err(e) => tracing::warn!(error = %e, "live updates: could not recheck the session"),
            }
        }
        let project = serde_json::from_str::<UpdateProject>(update).ok()?.project_id;
        Some(self.projects.contains(&project))
    }

    async fn read(&self) -> Result<Option<HashSet<ProjectId>>, ServerError> {
        let Some(user) = crate::server::accounts::session::user_of(&self.state, &self.me.token).await? else {
            return Ok(None);
        };
        let admin = user.role == crate::model::InstanceRole::Admin;
        let grants = crate::server::db::projects::grants(&self.state.db, user.user, admin).await?;
        Ok(Some(grants.into_iter().map(|g| g.project.id).collect()))
    }
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
