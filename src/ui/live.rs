//! The browser side of live updates: an `EventSource` on `/live` that calls back (at most every
//! 500 ms) when data changed, a live/paused indicator, and the rule that keeps rows where the
//! reader sees them: new issues go on top, highlighted; the others keep their places.

use crate::model::{IssueId, IssueSummary};
use leptos::prelude::*;
use std::collections::HashSet;

/// What the indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    Connecting,
    Live,
    Reconnecting,
    Paused,
}

impl LiveState {
    fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting…",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting…",
            Self::Paused => "paused",
        }
    }
}

/// Orders a freshly fetched page for display: issues not shown before come first (marked
/// fresh), then those shown before in their previous order. With no previous list (another
/// query, first load) the server's order stands and nothing is fresh.
pub fn arrange(previous: Option<&[IssueId]>, issues: Vec<IssueSummary>) -> Vec<(IssueSummary, bool)> {
    let Some(previous) = previous else { return issues.into_iter().map(|s| (s, false)).collect() };
    let before: HashSet<IssueId> = previous.iter().copied().collect();
    let (mut fresh, mut known): (Vec<_>, Vec<_>) = issues.into_iter().partition(|s| !before.contains(&s.issue.id));
    known.sort_by_key(|s| previous.iter().position(|id| *id == s.issue.id));
    fresh.drain(..).map(|s| (s, true)).chain(known.into_iter().map(|s| (s, false))).collect()
}

/// A page's live connection: its state, whether the user paused it, and whether updates came in
/// while paused.
#[derive(Clone, Copy)]
pub struct Live {
    pub state: ReadSignal<LiveState>,
    pub paused: RwSignal<bool>,
    pub missed: RwSignal<bool>,
}

/// Subscribes to `/live` while the calling component lives: `on_change` runs (throttled) after
/// updates unless paused; a resume after missed updates runs it once.
pub fn use_live(on_change: impl Fn() + Clone + Send + Sync + 'static) -> Live {
    let (state, set_state) = signal(LiveState::Connecting);
    let paused = RwSignal::new(false);
    let missed = RwSignal::new(false);
    let scheduled = RwSignal::new(false);
    let notify = {
        let on_change = on_change.clone();
        move || {
            if paused.get_untracked() {
                missed.set(true);
                return;
            }
            if scheduled.get_untracked() {
                return;
            }
            scheduled.set(true);
            let on_change = on_change.clone();
            set_timeout(
                move || {
                    scheduled.set(false);
                    on_change();
                },
                std::time::Duration::from_millis(300),
            );
        }
    };
    Effect::new(move |_| {
        if paused.get() {
            set_state.set(LiveState::Paused);
        } else {
            set_state.update(|s| {
                if *s == LiveState::Paused {
                    *s = LiveState::Live;
                }
            });
            if missed.get_untracked() {
                missed.set(false);
                on_change();
            }
        }
    });
    connect(notify, set_state, paused);
    Live { state, paused, missed }
}

#[cfg(feature = "hydrate")]
fn connect(notify: impl Fn() + 'static, set_state: WriteSignal<LiveState>, paused: RwSignal<bool>) {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new("/live") else {
        set_state.set(LiveState::Reconnecting);
        return;
    };
    let keep = move |s: LiveState| if paused.get_untracked() { LiveState::Paused } else { s };
    let on_open = Closure::<dyn Fn()>::new(move || set_state.set(keep(LiveState::Live)));
    // The browser reconnects an EventSource by itself; show that it is trying.
    let on_error = Closure::<dyn Fn()>::new(move || set_state.set(keep(LiveState::Reconnecting)));
    let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| notify());
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    for kind in ["update", "resync"] {
        let _ = source.add_event_listener_with_callback(kind, on_message.as_ref().unchecked_ref());
    }
    let held = SendWrapper::new((source, on_open, on_error, on_message));
    on_cleanup(move || held.0.close());
}

#[cfg(not(feature = "hydrate"))]
fn connect(_notify: impl Fn() + 'static, _set_state: WriteSignal<LiveState>, _paused: RwSignal<bool>) {}

/// The live/paused indicator with its toggle, and a note while paused that updates are waiting.
#[component]
pub fn LiveIndicator(live: Live) -> impl IntoView {
    let Live { state, paused, missed } = live;
    view! {
        <span class="live-indicator">
            <span class=move || format!("live-dot live-{:?}", state.get()).to_lowercase() aria-hidden="true"></span>
            <span role="status" id="live-state">{move || state.get().label()}</span>
            <Show when=move || paused.get() && missed.get()>
                <span id="live-missed" class="muted">"new updates"</span>
            </Show>
            <button type="button" class="link" on:click=move |_| paused.update(|p| *p = !*p)>
                {move || if paused.get() { "Resume" } else { "Pause" }}
            </button>
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Issue, IssueStatus, Level, ProjectId};

    fn summary(id: i64) -> IssueSummary {
        let now = chrono::Utc::now();
        IssueSummary {
            issue: Issue {
                id: IssueId::new(id),
                project_id: ProjectId::new(1),
                fingerprint: id.to_string(),
                title: format!("issue {id}"),
                culprit: String::new(),
                level: Level::Error,
                status: IssueStatus::Unresolved,
                count: 1,
                first_seen: now,
                last_seen: now,
                ignore_until_count: None,
                ignore_until: None,
            },
            users: 0,
            trend: vec![0; 24],
        }
    }

    #[test]
    fn new_issues_go_on_top_and_known_ones_keep_their_places() {
        let previous = [IssueId::new(1), IssueId::new(2), IssueId::new(3)];
        // The server now sorts 3 first (it got a new event) and has a new issue 4; 2 is gone.
        let page = vec![summary(3), summary(4), summary(1)];
        let shown: Vec<(i64, bool)> =
            arrange(Some(&previous), page).into_iter().map(|(s, fresh)| (s.issue.id.get(), fresh)).collect();
        assert_eq!(shown, [(4, true), (1, false), (3, false)]);
    }

    #[test]
    fn without_a_previous_list_the_server_order_stands() {
        let shown: Vec<i64> =
            arrange(None, vec![summary(3), summary(1)]).into_iter().map(|(s, _)| s.issue.id.get()).collect();
        assert_eq!(shown, [3, 1]);
    }
}
