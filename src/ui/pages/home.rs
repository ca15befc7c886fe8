//! The home page: totals and the latest errors, newest first.

use crate::api::overview::{Overview, get_overview};
use crate::model::ErrorEvent;
use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    // Effects run only in the browser: the marker tells tests (and people) the page is live.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="home" data-hydrated=move || hydrated.get().to_string()>
            <div class="heading">
                <h1>"Latest errors"</h1>
                <button type="button" on:click=move |_| overview.refetch()>"Refresh"</button>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <OverviewView overview=o /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OverviewView(overview: Overview) -> impl IntoView {
    let s = overview.stats;
    let empty = overview.latest.is_empty();
    view! {
        <div class="cards">
            <div class="card"><span class="label">"Total errors"</span><span class="value" id="total-errors">{s.total}</span></div>
            <div class="card"><span class="label">"Unresolved"</span><span class="value">{s.unresolved}</span></div>
            <div class="card"><span class="label">"Last 24 h"</span><span class="value">{s.last_24h}</span></div>
            <div class="card"><span class="label">"Issues"</span><span class="value">{s.issues.total}</span></div>
        </div>
        {if empty {
            view! {
                <p class="empty">
                    "No errors yet. Send one with "
                    <code>"curl -X POST http://127.0.0.1:3000/api/errors -H 'X-API-Key: test-api-key' -H 'Content-Type: application/json' -d '{\"message\":\"hello\"}'"</code>
                </p>
            }
                .into_any()
        } else {
            view! {
                <ul class="errors">
                    {overview.latest.into_iter().map(|e| view! { <ErrorRow error=e /> }).collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}

#[component]
fn ErrorRow(error: ErrorEvent) -> impl IntoView {
    let level = error.level.as_str();
    let time = error.timestamp.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    view! {
        <li class="error-row">
            <span class=format!("level level-{level}")>{level}</span>
            <span class="message">{error.message}</span>
            <time datetime=error.timestamp.to_rfc3339()>{time}</time>
        </li>
    }
}
