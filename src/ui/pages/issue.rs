//! One issue: its numbers, its last 24 hours, one event in full with navigation to older and
//! newer ones, and the triage actions (resolve, reopen, ignore, delete) for those whose role in
//! the issue's project allows them.

use crate::api::issues::{delete_issue, get_issue, ignore_issue, set_issue_status};
use crate::model::{ErrorId, IssueDetail, IssueId, IssueStatus};
use crate::ui::components::event_view::EventView;
use crate::ui::components::{Ago, EventsChart, Facets, LevelBadge};
use crate::ui::live::{LiveIndicator, use_live};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

#[component]
pub fn IssuePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<IssueId>().ok()));
    let event = Memo::new(move |_| query.read().get("event").and_then(|s| s.parse::<ErrorId>().ok()));
    let set_status = Action::new(|(id, status): &(IssueId, IssueStatus)| set_issue_status(*id, *status));
    let delete = Action::new(|id: &IssueId| delete_issue(*id));
    let ignore =
        Action::new(|(id, events, hours): &(IssueId, Option<i64>, Option<i64>)| ignore_issue(*id, *events, *hours));
    let refresh = RwSignal::new(0u64);
    let live = use_live(move || refresh.update(|n| *n += 1));
    let detail = Resource::new(
        move || (id.get(), event.get(), set_status.version().get(), ignore.version().get(), refresh.get()),
        |(id, event, ..)| async move {
            match id {
                Some(id) => get_issue(id, event).await,
                None => Err(crate::model::AppError::NotFound),
            }
        },
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(delete.value().get(), Some(Ok(()))) {
            let back = detail.get_untracked().and_then(Result::ok).map(|d| format!("/?project={}", d.project.slug));
            navigate(back.as_deref().unwrap_or("/"), Default::default());
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="issue" data-hydrated=move || hydrated.get().to_string()>
            <div class="heading">
                <Transition fallback=|| view! { <A href="/">"← All issues"</A> }>
                    {move || Suspend::new(async move {
                        match detail.await {
                            Ok(d) => Either::Left(view! {
                                <A href=format!("/?project={}", d.project.slug) attr:id="issue-project">{format!("← {}", d.project.name)}</A>
                            }),
                            Err(_) => Either::Right(view! { <A href="/">"← All issues"</A> }),
                        }
                    })}
                </Transition>
                <LiveIndicator live=live />
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading issue…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => EitherOf3::A(view! { <IssueView detail=d set_status=set_status delete=delete ignore=ignore /> }),
                        Err(crate::model::AppError::NotFound) => EitherOf3::B(view! { <p class="empty" role="alert">"This issue does not exist (or was deleted)."</p> }),
                        Err(e) => EitherOf3::C(view! { <p class="error" role="alert">{format!("Issue unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

type StatusAction = Action<(IssueId, IssueStatus), Result<(), crate::model::AppError>>;
type DeleteAction = Action<IssueId, Result<(), crate::model::AppError>>;
type IgnoreAction = Action<(IssueId, Option<i64>, Option<i64>), Result<(), crate::model::AppError>>;

/// The ignore choices: `(value, label)`; `e<N>` until N more events, `h<N>` for N hours.
const IGNORE_CHOICES: &[(&str, &str)] = &[
    ("", "until I change it"),
    ("h1", "for 1 hour"),
    ("h24", "for 24 hours"),
    ("h168", "for 7 days"),
    ("e10", "until 10 more events"),
    ("e100", "until 100 more events"),
    ("e1000", "until 1,000 more events"),
];

/// A choice of `IGNORE_CHOICES` as (more events, hours).
fn ignore_choice(value: &str) -> (Option<i64>, Option<i64>) {
    let number = |s: &str| s.parse::<i64>().ok();
    match value.split_at_checked(1) {
        Some(("e", n)) => (number(n), None),
        Some(("h", n)) => (None, number(n)),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ignore_choices_read_as_events_or_hours() {
        assert_eq!(super::ignore_choice("e100"), (Some(100), None));
        assert_eq!(super::ignore_choice("h24"), (None, Some(24)));
        assert_eq!(super::ignore_choice(""), (None, None));
        assert!(super::IGNORE_CHOICES.iter().all(|(v, _)| v.is_empty() || super::ignore_choice(v) != (None, None)));
    }
}

#[component]
fn IssueView(
    detail: IssueDetail,
    set_status: StatusAction,
    delete: DeleteAction,
    ignore: IgnoreAction,
) -> impl IntoView {
    let i = detail.summary.issue;
    let id = i.id;
    let now = detail.now;
    let status = i.status;
    let triage = detail.project.role.can_triage();
    let pending = move || set_status.pending().get() || delete.pending().get() || ignore.pending().get();
    let failed = move || {
        let s = set_status.value().get().and_then(Result::err);
        let d = delete.value().get().and_then(Result::err);
        let g = ignore.value().get().and_then(Result::err);
        s.or(d).or(g).map(|e| view! { <p class="error" role="alert">{format!("The change failed: {e}")}</p> })
    };
    let ignore_for = RwSignal::new(String::new());
    let ignored_until = match (status, i.ignore_until_count, i.ignore_until) {
        (IssueStatus::Ignored, Some(n), _) => Some(format!("until it has {n} events")),
        (IssueStatus::Ignored, None, Some(t)) => Some(format!("until {}", t.format("%Y-%m-%d %H:%M UTC"))),
        _ => None,
    };
    let action_button = move |label: &'static str, target: IssueStatus| {
        view! {
            <button type="button" disabled=pending on:click=move |_| { set_status.dispatch((id, target)); }>{label}</button>
        }
    };
    let nav = |target: Option<ErrorId>, label: &'static str, rel: &'static str| match target {
        Some(e) => Either::Left(view! { <A href=format!("/issues/{id}?event={e}") attr:rel=rel>{label}</A> }),
        None => Either::Right(view! { <span class="disabled" aria-disabled="true">{label}</span> }),
    };
    view! {
        <header class="issue-head">
            <div class="issue-title-line">
                <LevelBadge level=i.level />
                <h1 id="issue-title">{i.title}</h1>
            </div>
            <p class="culprit">{i.culprit}</p>
            <p class="issue-meta">
                <span class=format!("status status-{status}") id="issue-status">{status.as_str()}</span>
                {ignored_until.map(|u| view! { <span id="ignored-until">{u}</span> })}
                <span>{format!("{} events", i.count)}</span>
                <span>{format!("{} users", detail.summary.users)}</span>
                <span>"first seen "<Ago at=i.first_seen now=now /></span>
                <span>"last seen "<Ago at=i.last_seen now=now /></span>
            </p>
            {triage.then(move || view! { <div class="actions">
                {match status {
                    IssueStatus::Unresolved => Either::Left(view! {
                        {action_button("Resolve", IssueStatus::Resolved)}
                        <span class="ignore">
                            <label class="visually-hidden" for="ignore-for">"Ignore how long"</label>
                            <select id="ignore-for" on:change=move |ev| ignore_for.set(event_target_value(&ev))>
                                {IGNORE_CHOICES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                            </select>
                            <button type="button" disabled=pending on:click=move |_| {
                                let (events, hours) = ignore_choice(&ignore_for.get_untracked());
                                ignore.dispatch((id, events, hours));
                            }>"Ignore"</button>
                        </span>
                    }),
                    IssueStatus::Resolved | IssueStatus::Ignored => Either::Right(action_button("Reopen", IssueStatus::Unresolved)),
                }}
                <button
                    type="button"
                    class="danger"
                    disabled=pending
                    on:click=move |_| {
                        if crate::ui::pages::settings::confirm("Delete this issue and all its events?") {
                            delete.dispatch(id);
                        }
                    }
                >
                    "Delete"
                </button>
            </div> })}
            {(!triage).then(|| view! { <p class="muted" id="read-only">"You can view this project; triage needs the member role."</p> })}
            {failed}
        </header>
        <EventsChart hourly=detail.summary.trend daily=detail.daily />
        <Facets facets=detail.facets />
        <nav class="event-nav" aria-label="Events of this issue">
            {nav(detail.newer, "← Newer", "prev")}
            <span>{format!("event {} of {}", detail.position, i.count)}</span>
            {nav(detail.older, "Older →", "next")}
        </nav>
        {match detail.event {
            Some(e) => Either::Left(view! { <EventView event=e /> }),
            None => Either::Right(view! { <p class="empty">"This issue has no events left."</p> }),
        }}
    }
}
