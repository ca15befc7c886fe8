//! The home page: totals, then the issues matching the filters in the URL, with pagination;
//! over one project (`?project=<slug>`) or every project the user sees, each row then naming its
//! project.

use crate::api::issues::{get_stats, list_issues};
use crate::model::{
    IssueId, IssuePage, IssueQuery, IssueSort, IssueStatus, IssueSummary, Level, Period, ProjectBrief, ProjectId,
    Source, Stats,
};
use crate::ui::components::{Ago, LevelBadge, Trend};
use crate::ui::live::{LiveIndicator, arrange, use_live};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_location;

#[component]
pub fn IssuesPage() -> impl IntoView {
    let location = use_location();
    let search = location.search;
    let query = Memo::new(move |_| IssueQuery::from_query(&search.get()));
    // Bumped by live updates: refetches the list and the totals.
    let refresh = RwSignal::new(0u64);
    let issues = Resource::new(move || (search.get(), refresh.get()), |(s, _)| list_issues(s));
    let stats = Resource::new(move || (search.get(), refresh.get()), |(s, _)| get_stats(s));
    let live = use_live(move || refresh.update(|n| *n += 1));
    // The ids shown last and their query, so updates do not move rows under the reader.
    let shown: StoredValue<Option<(String, Vec<IssueId>)>> = StoredValue::new(None);
    // Its own read of the user's projects (for the filter), apart from the header's.
    let projects = Resource::new(|| (), |_| crate::api::projects::list_projects());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="issues" data-hydrated=move || hydrated.get().to_string()>
            <Transition fallback=|| view! { <div class="cards loading">"Loading totals…"</div> }>
                {move || Suspend::new(async move {
                    match stats.await {
                        Ok(s) => Either::Left(view! { <StatsCards stats=s /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Totals unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
            <div class="heading">
                <h1>"Issues"</h1>
                <LiveIndicator live=live />
            </div>
            <Transition fallback=|| ()>
                {move || {
                    let query = query.get();
                    Suspend::new(async move {
                        let projects = projects.await.unwrap_or_default();
                        view! { <Filters query projects /> }
                    })
                }}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Loading issues…"</p> }>
                {move || Suspend::new(async move {
                    match issues.await {
                        Ok(mut page) => {
                            let s = search.get_untracked();
                            let previous = shown.with_value(|p| p.as_ref().filter(|(q, _)| *q == s).map(|(_, ids)| ids.clone()));
                            let rows = arrange(previous.as_deref(), std::mem::take(&mut page.issues));
                            shown.set_value(Some((s, rows.iter().map(|(r, _)| r.issue.id).collect())));
                            Either::Left(view! { <IssueTable page=page rows=rows query=query.get_untracked() /> })
                        }
                        Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Issues unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatsCards(stats: Stats) -> impl IntoView {
    let l = stats.by_level;
    view! {
        <div class="cards" aria-label="Totals for the filters below">
            <div class="card"><span class="label">"Errors"</span><span class="value" id="total-errors">{stats.total}</span></div>
            <div class="card"><span class="label">"Unresolved issues"</span><span class="value" id="unresolved-issues">{stats.issues.unresolved}</span></div>
            <div class="card"><span class="label">"Errors, last 24 h"</span><span class="value">{stats.last_24h}</span></div>
            <div class="card levels">
                <span class="label">"By level"</span>
                <span class="level-counts">
                    <span class="level-fatal">{format!("fatal {}", l.fatal)}</span>
                    <span class="level-error">{format!("error {}", l.error)}</span>
                    <span class="level-warning">{format!("warning {}", l.warning)}</span>
                    <span class="level-info">{format!("info {}", l.info)}</span>
                    <span class="level-debug">{format!("debug {}", l.debug)}</span>
                </span>
            </div>
        </div>
    }
}

/// A `<select>` whose options are `(value, label)`; the current value is selected.
#[component]
fn Select(name: &'static str, label: &'static str, options: Vec<(String, String)>, current: String) -> impl IntoView {
    let id = format!("filter-{name}");
    view! {
        <label for=id.clone()>{label}</label>
        <select id=id name=name>
            {options.into_iter().map(|(value, text)| {
                let selected = value == current;
                view! { <option value=value selected=selected>{text}</option> }
            }).collect_view()}
        </select>
    }
}

fn words<T: Copy>(all: &[T], word: fn(T) -> &'static str, any: &str) -> Vec<(String, String)> {
    std::iter::once((String::new(), any.to_owned()))
        .chain(all.iter().map(|v| (word(*v).to_owned(), word(*v).to_owned())))
        .collect()
}

#[component]
fn Filters(query: IssueQuery, projects: Vec<ProjectBrief>) -> impl IntoView {
    let statuses: Vec<(String, String)> = IssueStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .chain(std::iter::once(("all".to_owned(), "all".to_owned())))
        .collect();
    let periods: Vec<(String, String)> = [
        (Period::All, "any time"),
        (Period::Hour, "last hour"),
        (Period::Day, "last 24 h"),
        (Period::Week, "last 7 days"),
        (Period::Month, "last 30 days"),
        (Period::Custom, "custom…"),
    ]
    .iter()
    .map(|(p, l)| (p.as_str().to_owned(), (*l).to_owned()))
    .collect();
    let sorts: Vec<(String, String)> =
        [(IssueSort::LastSeen, "last seen"), (IssueSort::FirstSeen, "first seen"), (IssueSort::Count, "events")]
            .iter()
            .map(|(s, l)| (s.as_str().to_owned(), (*l).to_owned()))
            .collect();
    let custom = query.period == Period::Custom;
    let project = query.project.clone().unwrap_or_default();
    let project_options = crate::ui::projects::project_options(&projects);
    view! {
        <Form action="/" method="GET">
            <div class="filters" role="search">
                <span class="field"><Select name="project" label="Project" options=project_options current=project /></span>
                <span class="field search">
                    <label for="filter-q">"Search"</label>
                    <input id="filter-q" type="search" name="q" placeholder="title, message or culprit" value=query.q.clone().unwrap_or_default() />
                </span>
                <span class="field"><Select name="status" label="Status" options=statuses current=query.status.map_or("all".to_owned(), |s| s.as_str().to_owned()) /></span>
                <span class="field"><Select name="level" label="Level" options=words(Level::ALL, Level::as_str, "any level") current=query.level.map(|l| l.as_str().to_owned()).unwrap_or_default() /></span>
                <span class="field"><Select name="source" label="Source" options=words(Source::ALL, Source::as_str, "any source") current=query.source.map(|s| s.as_str().to_owned()).unwrap_or_default() /></span>
                <span class="field">
                    <label for="filter-environment">"Environment"</label>
                    <input id="filter-environment" name="environment" value=query.environment.clone().unwrap_or_default() />
                </span>
                <span class="field">
                    <label for="filter-release">"Release"</label>
                    <input id="filter-release" name="release" value=query.release.clone().unwrap_or_default() />
                </span>
                <span class="field"><Select name="period" label="Time range" options=periods current=query.period.as_str().to_owned() /></span>
                <span class="field" class:hidden=!custom>
                    <label for="filter-since">"From"</label>
                    <input id="filter-since" type="date" name="since" value=query.since.clone().unwrap_or_default() />
                </span>
                <span class="field" class:hidden=!custom>
                    <label for="filter-until">"To"</label>
                    <input id="filter-until" type="date" name="until" value=query.until.clone().unwrap_or_default() />
                </span>
                <span class="field"><Select name="sort" label="Sort by" options=sorts current=query.sort.as_str().to_owned() /></span>
                <span class="field"><Select name="per_page" label="Per page" options=[25, 50, 100].iter().map(|n| (n.to_string(), n.to_string())).collect() current=query.per_page.to_string() /></span>
                <button type="submit" class="primary">"Apply"</button>
                <a class="reset" href="/">"Reset"</a>
            </div>
        </Form>
    }
}

#[component]
fn IssueTable(page: IssuePage, rows: Vec<(IssueSummary, bool)>, query: IssueQuery) -> impl IntoView {
    let now = page.now;
    let per_page = page.per_page.max(1);
    let last_page = (page.total / per_page + i64::from(page.total % per_page != 0)).max(1);
    let skipped = (page.page - 1).saturating_mul(page.per_page);
    let first_row = if rows.is_empty() { 0 } else { skipped.saturating_add(1) };
    let last_row = skipped.saturating_add(rows.len() as i64).min(page.total);
    let href = move |p: i64| {
        let q = query.with_page(p).to_query();
        if q.is_empty() { "/".to_owned() } else { format!("/?{q}") }
    };
    if page.projects.is_empty() {
        return EitherOf3::A(view! {
            <div class="empty" id="no-issues">
                <p><strong>"You are not a member of any project yet."</strong></p>
                <p>"Create a project on the " <a href="/projects">"Projects"</a> " page, or ask an admin to add you to one."</p>
            </div>
        });
    }
    let all_projects = page.project.is_none();
    let tag_of =
        |id: ProjectId| all_projects.then(|| page.project(id)).flatten().map(|p| (p.slug.clone(), p.name.clone()));
    if rows.is_empty() {
        return EitherOf3::B(view! {
            <div class="empty" id="no-issues">
                <p><strong>"No issues match."</strong></p>
                <p>
                    "Point a Sentry SDK at this project's DSN (see "<code>"GET /api/projects"</code>"), or post an error: "
                    <code>"curl -X POST http://127.0.0.1:3000/api/errors -H 'X-API-Key: test-api-key' -H 'Content-Type: application/json' -d '{\"message\":\"hello\"}'"</code>
                </p>
            </div>
        });
    }
    EitherOf3::C(view! {
        <table class="issues">
            <thead>
                <tr>
                    <th scope="col">"Issue"</th>
                    <th scope="col" class="num">"Events"</th>
                    <th scope="col" class="num">"Users"</th>
                    <th scope="col">"Last 24 h"</th>
                    <th scope="col">"Seen"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|(s, fresh)| {
                    let i = s.issue;
                    let tag = tag_of(i.project_id);
                    view! {
                        <tr class="issue-row" class:fresh=fresh data-issue-id=i.id.to_string()>
                            <td class="issue-cell"><div class="issue-main">
                                <LevelBadge level=i.level />
                                {tag.map(|(slug, name)| view! { <a class="project-tag" href=format!("/?project={slug}")>{name}</a> })}
                                <A href=format!("/issues/{}", i.id) attr:class="issue-title">{i.title}</A>
                                <span class="culprit">{i.culprit}</span>
                                {(i.status != IssueStatus::Unresolved).then(|| view! { <span class=format!("status status-{}", i.status)>{i.status.as_str()}</span> })}
                            </div></td>
                            <td class="num" data-label="events">{i.count}</td>
                            <td class="num" data-label="users">{s.users}</td>
                            <td><Trend counts=s.trend /></td>
                            <td class="seen">
                                <span>"last "<Ago at=i.last_seen now=now /></span>
                                <span>"first "<Ago at=i.first_seen now=now /></span>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            <span id="page-info">{format!("{first_row}–{last_row} of {}", page.total)}</span>
            {(page.page > 1).then(|| view! { <A href=href(page.page - 1) attr:rel="prev">"← Previous"</A> })}
            <span>{format!("page {} of {last_page}", page.page)}</span>
            {(page.page < last_page).then(|| view! { <A href=href(page.page + 1) attr:rel="next">"Next →"</A> })}
        </nav>
    })
}
