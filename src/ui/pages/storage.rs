//! The settings page's storage panel: what the project stores (errors, estimated size, oldest
//! error), the database's size against its budget, whether ingest refuses events, what
//! retention and the budget removed lately, and (for admins) the project's own retention.

use crate::api::projects::{get_storage, set_retention};
use crate::model::{ProjectId, Removal, RemovalReason, StorageReport, format_bytes};
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub fn StoragePanel(project: ProjectId, admin: bool) -> impl IntoView {
    let save = Action::new(|(p, days): &(ProjectId, Option<i32>)| set_retention(*p, *days));
    let report = Resource::new(move || save.version().get(), move |_| get_storage(project));
    view! {
        <section class="panel" id="storage">
            <h2>"Storage"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading storage…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(r) => Either::Left(view! { <StorageView report=r project admin save /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Storage unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
            {super::settings::failure(save, "Could not set the retention")}
        </section>
    }
}

#[component]
fn StorageView(
    report: StorageReport,
    project: ProjectId,
    admin: bool,
    save: Action<(ProjectId, Option<i32>), Result<(), crate::model::AppError>>,
) -> impl IntoView {
    let mine = report.projects.iter().find(|p| p.id == project).cloned();
    let others = report.projects.len() > 1;
    let days = RwSignal::new(
        mine.as_ref().filter(|p| p.own_retention).map(|p| p.retention_days.to_string()).unwrap_or_default(),
    );
    let budget = report.max_storage.map_or_else(
        || "no budget (FAULTLINE_MAX_STORAGE)".to_owned(),
        |max| format!("of a {} budget", format_bytes(max)),
    );
    view! {
        {report.refusing.clone().map(|why| view! {
            <p class="error" role="alert" id="storage-refusing">{format!("Ingest refuses events: {why}")}</p>
        })}
        <dl class="facts">
            <dt>"This project"</dt>
            <dd id="storage-project">{mine.as_ref().map_or_else(String::new, |p| format!(
                "{} errors, about {}", p.errors, format_bytes(p.bytes)
            ))}</dd>
            <dt>"Oldest stored error"</dt>
            <dd>{mine.as_ref().and_then(|p| p.oldest).map_or_else(|| "none".to_owned(), |t| t.format("%Y-%m-%d %H:00 UTC").to_string())}</dd>
            <dt>"Kept for"</dt>
            <dd id="storage-retention">{mine.as_ref().map_or_else(String::new, |p| format!(
                "{} days{}", p.retention_days, if p.own_retention { " (this project's own setting)" } else { " (the server's setting)" }
            ))}</dd>
            <dt>"Database"</dt>
            <dd id="storage-database">{format!("{} {budget}; errors {}", format_bytes(report.database_bytes), format_bytes(report.errors_bytes))}</dd>
            <dt>"Free disk"</dt>
            <dd>{report.free_disk.map_or_else(|| "not visible from faultline".to_owned(), format_bytes)}</dd>
            <dt>"Per issue"</dt>
            <dd>{if report.max_events_per_issue > 0 { format!("the newest {} events are kept (counts keep counting)", report.max_events_per_issue) } else { "no limit".to_owned() }}</dd>
        </dl>
        {admin.then(|| view! {
            <form
                class="inline-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let typed = days.get_untracked();
                    save.dispatch((project, typed.trim().parse::<i32>().ok()));
                }
            >
                <label for="retention-days">"Keep errors for (days; empty: the server's setting)"</label>
                <input id="retention-days" type="number" min="1" max="36500" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev)) />
                <button type="submit" disabled=move || save.pending().get()>"Save retention"</button>
            </form>
        })}
        {others.then(|| view! {
            <table class="storage-projects">
                <thead><tr><th scope="col">"Project"</th><th scope="col">"Errors"</th><th scope="col">"Size (about)"</th><th scope="col">"Oldest"</th><th scope="col">"Kept for"</th></tr></thead>
                <tbody>
                    {report.projects.iter().map(|p| view! {
                        <tr>
                            <td>{p.name.clone()}</td>
                            <td>{p.errors}</td>
                            <td>{format_bytes(p.bytes)}</td>
                            <td>{p.oldest.map_or_else(|| "—".to_owned(), |t| t.format("%Y-%m-%d").to_string())}</td>
                            <td>{format!("{} days", p.retention_days)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        <h3>"Removed lately"</h3>
        {if report.removals.is_empty() {
            Either::Left(view! { <p class="muted" id="storage-removals">"Nothing yet."</p> })
        } else {
            Either::Right(view! {
                <ul id="storage-removals" class="removals">
                    {report.removals.iter().map(|r| view! { <li>{removal_line(r)}</li> }).collect_view()}
                </ul>
            }
            )
        }}
    }
}

/// One removal as a sentence.
fn removal_line(r: &Removal) -> String {
    let when = r.at.format("%Y-%m-%d %H:%M UTC");
    let whose = r.project.as_deref().map_or_else(|| "every project".to_owned(), |p| format!("project {p}"));
    let day = r.day.map(|d| format!(" of {d}")).unwrap_or_default();
    let freed = if r.bytes > 0 { format!(", {} freed", format_bytes(r.bytes)) } else { String::new() };
    match r.reason {
        RemovalReason::Retention => format!("{when}: {} errors{day} past the retention ({whose}){freed}", r.errors),
        RemovalReason::Budget => {
            format!("{when}: {} errors{day} removed for the storage budget ({whose}){freed}", r.errors)
        }
        RemovalReason::Project => format!("{when}: {} errors past the project's retention ({whose})", r.errors),
        RemovalReason::Limit => format!("{when}: {} old errors of issues over their limit ({whose})", r.errors),
        RemovalReason::Resolved => format!("{when}: {} resolved issues without errors aged out ({whose})", r.issues),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_read_as_sentences_with_what_they_freed() {
        let r = Removal {
            at: "2026-12-03T04:05:00Z".parse().unwrap(),
            reason: RemovalReason::Budget,
            project: None,
            day: "2026-09-01".parse().ok(),
            errors: 1200,
            issues: 0,
            bytes: 3_400_000,
        };
        assert_eq!(
            removal_line(&r),
            "2026-12-03 04:05 UTC: 1200 errors of 2026-09-01 removed for the storage budget (every project), 3.4 MB freed"
        );
    }
}
