//! The dashboard's issue calls: list (with the URL's query), one issue with an event, triage.

use crate::model::{AppError, ErrorId, IssueDetail, IssueId, IssuePage, IssueStatus, Stats};
use leptos::prelude::*;

/// A page of issues for a URL query string such as `project=web&status=all&page=2` (no
/// `project`: every project the caller sees).
#[server]
pub async fn list_issues(query: String) -> Result<IssuePage, AppError> {
    use crate::model::{IssueQuery, IssueSummary};
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let q = IssueQuery::from_query(&query);
    let (projects, chosen, ids) = visible_scope(&st, &me, q.project.as_deref()).await?;
    let scope = scope_of(&ids);
    // Every open tab rereads the list at each live update: one of them computes it.
    let what = format!("dashboard:issues:{}", q.to_query());
    let computed = st.cache.get_or_compute(&ids, &what, || async {
        let now = chrono::Utc::now();
        if ids.is_empty() {
            return Ok((Vec::new(), 0, now));
        }
        let (issues, total) = db::issues::list(&st.db, scope, &q.filter(now), q.sort, q.page()).await?;
        let issue_ids: Vec<IssueId> = issues.iter().map(|i| i.id).collect();
        let mut extra = db::issues::users_and_trends(&st.db, &issue_ids, now).await?;
        let issues: Vec<IssueSummary> = issues
            .into_iter()
            .map(|issue| {
                let (users, trend) = extra.remove(&issue.id).unwrap_or((0, vec![0; 24]));
                IssueSummary { issue, users, trend }
            })
            .collect();
        Ok::<_, sqlx::Error>((issues, total, now))
    });
    let (issues, total, now) = computed.await.map_err(ServerError::from)?;
    Ok(IssuePage { issues, total, page: q.page, per_page: q.per_page, now, projects, project: chosen })
}

/// The totals under the filters of a URL query string (page and sort ignored), over its project
/// or every project the caller sees.
#[server]
pub async fn get_stats(query: String) -> Result<Stats, AppError> {
    use crate::model::IssueQuery;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let q = IssueQuery::from_query(&query);
    let (_, _, ids) = visible_scope(&st, &me, q.project.as_deref()).await?;
    let what = format!("dashboard:stats:{}", q.to_query());
    let stats = st.cache.get_or_compute(&ids, &what, || async {
        if ids.is_empty() {
            return Ok(Stats::default());
        }
        let now = chrono::Utc::now();
        db::stats::filtered(&st.db, scope_of(&ids), &q.filter(now), now).await
    });
    Ok(stats.await.map_err(ServerError::from)?)
}

/// The projects the caller sees, the one `slug` chooses among them (unknown or not theirs:
/// `NotFound`), and the ids a list covers: the chosen one, or all.
#[cfg(feature = "ssr")]
async fn visible_scope(
    st: &crate::server::AppState,
    me: &crate::server::accounts::guard::SignedIn,
    slug: Option<&str>,
) -> Result<(Vec<crate::model::ProjectBrief>, Option<crate::model::ProjectId>, Vec<crate::model::ProjectId>), AppError>
{
    use crate::server::{db, error::ServerError};
    let grants = db::projects::grants(&st.db, me.user.user, me.is_admin()).await.map_err(ServerError::from)?;
    let projects: Vec<_> = grants.iter().map(super::brief).collect();
    let chosen = match slug {
        Some(slug) => Some(projects.iter().find(|p| p.slug == slug).ok_or(AppError::NotFound)?.id),
        None => None,
    };
    let ids = match chosen {
        Some(id) => vec![id],
        None => projects.iter().map(|p| p.id).collect(),
    };
    Ok((projects, chosen, ids))
}

#[cfg(feature = "ssr")]
fn scope_of(ids: &[crate::model::ProjectId]) -> crate::server::db::Scope<'_> {
    match ids {
        [one] => crate::server::db::Scope::One(*one),
        many => crate::server::db::Scope::Many(many),
    }
}

/// One issue with the event `event` (or its latest).
#[server]
pub async fn get_issue(id: IssueId, event: Option<ErrorId>) -> Result<IssueDetail, AppError> {
    use crate::model::IssueSummary;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grant = super::issue_grant(&st, &me, id, crate::model::ProjectRole::Viewer).await?;
    let project = grant.project.id;
    let issue = db::issues::get(&st.db, project, id).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let now = chrono::Utc::now();
    let (users, trend) = db::issues::users_and_trends(&st.db, &[id], now)
        .await
        .map_err(ServerError::from)?
        .remove(&id)
        .unwrap_or((0, vec![0; 24]));
    let (event, position, older, newer) =
        db::errors::in_issue(&st.db, project, id, event).await.map_err(ServerError::from)?;
    let daily = db::counts::daily(&st.db, id, now).await.map_err(ServerError::from)?;
    let facets = db::issues::facets(&st.db, id).await.map_err(ServerError::from)?;
    let project = super::brief(&grant);
    Ok(IssueDetail {
        summary: IssueSummary { issue, users, trend },
        event,
        older,
        newer,
        position,
        daily,
        facets,
        now,
        project,
    })
}

/// Resolves, reopens or ignores an issue (project members and admins).
#[server]
pub async fn set_issue_status(id: IssueId, status: IssueStatus) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let project = super::issue_grant(&st, &me, id, crate::model::ProjectRole::Member).await?.project.id;
    db::issues::set_status(&st.db, project, id, status).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    super::audit(&st, &me, "issue_status", Some(project), &format!("issue {id}: {}", status.as_str())).await;
    crate::server::live::changed(&st, project, &[id]).await;
    Ok(())
}

/// Ignores an issue until `more_events` more events arrive, or for `for_hours` hours (neither:
/// until someone changes it); then it comes back unresolved (project members and admins).
#[server]
pub async fn ignore_issue(id: IssueId, more_events: Option<i64>, for_hours: Option<i64>) -> Result<(), AppError> {
    use crate::model::IgnoreUntil;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let project = super::issue_grant(&st, &me, id, crate::model::ProjectRole::Member).await?.project.id;
    let until = match (more_events, for_hours) {
        (None, None) => IgnoreUntil::Forever,
        (Some(n), None) if (1..=IgnoreUntil::MAX_EVENTS).contains(&n) => IgnoreUntil::Events(n),
        (None, Some(h)) if (1..=24 * 365).contains(&h) => {
            IgnoreUntil::Time(st.clock.wall() + chrono::Duration::hours(h))
        }
        _ => return Err(AppError::Invalid("Ignore: a number of events or of hours, not both".into())),
    };
    db::issues::ignore(&st.db, project, id, until).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let how = match until {
        IgnoreUntil::Forever => "ignored".to_owned(),
        IgnoreUntil::Events(n) => format!("ignored until {n} more events"),
        IgnoreUntil::Time(t) => format!("ignored until {}", t.to_rfc3339()),
    };
    super::audit(&st, &me, "issue_status", Some(project), &format!("issue {id}: {how}")).await;
    crate::server::live::changed(&st, project, &[id]).await;
    Ok(())
}

/// Deletes an issue with all its errors (project members and admins).
#[server]
pub async fn delete_issue(id: IssueId) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let project = super::issue_grant(&st, &me, id, crate::model::ProjectRole::Member).await?.project.id;
    if !db::issues::delete(&st.db, project, id).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "issue_delete", Some(project), &format!("issue {id}")).await;
    crate::server::live::changed(&st, project, &[id]).await;
    Ok(())
}
