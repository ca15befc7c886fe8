//! The audit log (`/audit`, instance admins): who did what, in which project, when and from
//! where, newest first, filtered by user, project and action (all in the URL), page by page.

use crate::api::users::list_audit;
use crate::model::{AppError, AuditPage, ProjectBrief, encode_query_value, query_pairs};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The actions the log records, for the filter.
const ACTIONS: &[&str] = &[
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "password_change",
    "password_reset",
    "password_reset_link",
    "session_end",
    "first_admin_created",
    "user_invite",
    "invite_accepted",
    "user_role",
    "user_deactivate",
    "user_reactivate",
    "project_create",
    "project_rename",
    "project_delete",
    "member_set",
    "member_remove",
    "api_key_create",
    "api_key_revoke",
    "dsn_rotate",
    "token_create",
    "token_revoke",
    "issue_status",
    "issue_delete",
    "error_delete",
];

#[derive(Clone, Debug, Default, PartialEq)]
struct AuditQuery {
    actor: String,
    project: String,
    action: String,
    before: Option<i64>,
}

impl AuditQuery {
    fn from_query(search: &str) -> Self {
        let mut q = Self::default();
        for (k, v) in query_pairs(search) {
            match k.as_str() {
                "actor" => q.actor = v,
                "project" => q.project = v,
                "action" => q.action = v,
                "before" => q.before = v.parse().ok(),
                _ => {}
            }
        }
        q
    }

    /// The URL of the next (older) page.
    fn next(&self, before: i64) -> String {
        let e = |s: &str| encode_query_value(s);
        format!(
            "/audit?actor={}&project={}&action={}&before={before}",
            e(&self.actor),
            e(&self.project),
            e(&self.action)
        )
    }
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let location = use_location();
    let query = Memo::new(move |_| AuditQuery::from_query(&location.search.get()));
    let entries = Resource::new(move || query.get(), |q| list_audit(q.actor, q.project, q.action, q.before));
    let projects = Resource::new(|| (), |_| crate::api::projects::list_projects());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="audit" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Audit log"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    use std::future::IntoFuture;
                    let (page, list) = futures_util::future::join(entries.into_future(), projects.into_future()).await;
                    let q = query.get_untracked();
                    let list = list.unwrap_or_default();
                    view! {
                        <AuditFilters query=q.clone() projects=list.clone() />
                        {match page {
                            Ok(page) => EitherOf3::A(view! { <AuditTable page query=q projects=list /> }),
                            Err(AppError::Forbidden) => EitherOf3::B(view! { <p class="error" role="alert">"Only instance admins read the audit log."</p> }),
                            Err(e) => EitherOf3::C(view! { <p class="error" role="alert">{format!("Audit log unavailable: {e}")}</p> }),
                        }}
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditFilters(query: AuditQuery, projects: Vec<ProjectBrief>) -> impl IntoView {
    view! {
        <form action="/audit" method="GET" class="filters" role="search">
            <span class="field">
                <label for="audit-actor">"User"</label>
                <input id="audit-actor" name="actor" type="email" placeholder="email" value=query.actor.clone() />
            </span>
            <span class="field">
                <label for="audit-project">"Project"</label>
                <select id="audit-project" name="project">
                    <option value="" selected=query.project.is_empty()>"any project"</option>
                    {projects.into_iter().map(|p| {
                        let id = p.id.to_string();
                        let selected = id == query.project;
                        view! { <option value=id selected=selected>{p.name}</option> }
                    }).collect_view()}
                </select>
            </span>
            <span class="field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name="action">
                    <option value="" selected=query.action.is_empty()>"any action"</option>
                    {ACTIONS.iter().map(|a| view! { <option value=*a selected=*a == query.action>{*a}</option> }).collect_view()}
                </select>
            </span>
            <button type="submit" class="primary">"Filter"</button>
            <a class="reset" href="/audit">"Reset"</a>
        </form>
    }
}

#[component]
fn AuditTable(page: AuditPage, query: AuditQuery, projects: Vec<ProjectBrief>) -> impl IntoView {
    if page.entries.is_empty() {
        return Either::Left(view! { <p class="empty" id="no-entries">"No entries match."</p> });
    }
    let name_of = |id: Option<crate::model::ProjectId>| {
        id.map(|id| {
            projects.iter().find(|p| p.id == id).map_or_else(|| format!("project {id} (deleted)"), |p| p.name.clone())
        })
    };
    Either::Right(view! {
        <table class="members audit">
            <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Project"</th><th scope="col">"What"</th><th scope="col">"Address"</th></tr></thead>
            <tbody>
                {page.entries.into_iter().map(|e| {
                    let action = e.action.clone();
                    view! {
                    <tr class="audit-row" data-action=action>
                        <td>{e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
                        <td>{e.actor}</td>
                        <td><code>{e.action}</code></td>
                        <td>{name_of(e.project_id).unwrap_or_default()}</td>
                        <td>{e.target}</td>
                        <td>{e.address.unwrap_or_default()}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {page.next_before.map(|before| view! { <nav class="pager"><a href=query.next(before) rel="next">"Older →"</a></nav> })}
    })
}
