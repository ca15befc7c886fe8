//! The dashboard's issue calls: list (with the URL's query), one issue with an event, triage.

use crate::model::{AppError, ErrorId, IssueDetail, IssueId, IssuePage, IssueStatus, Stats};
use leptos::prelude::*;

/// A page of issues for a URL query string such as `status=all&level=fatal&page=2`.
#[server]
pub async fn list_issues(query: String) -> Result<IssuePage, AppError> {
    use crate::model::{IssueQuery, IssueSummary};
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    super::signed_in()?;
    let project = super::dashboard_project(&st).await?.id;
    let q = IssueQuery::from_query(&query);
    // Every open tab rereads the list at each live update: one of them computes it.
    let what = format!("dashboard:issues:{}", q.to_query());
    let page = st.cache.get_or_compute(project, &what, || async {
        let now = chrono::Utc::now();
        let (issues, total) = db::issues::list(&st.db, project, &q.filter(now), q.sort, q.page()).await?;
        let ids: Vec<IssueId> = issues.iter().map(|i| i.id).collect();
        let mut extra = db::issues::users_and_trends(&st.db, &ids, now).await?;
        let issues = issues
            .into_iter()
            .map(|issue| {
                let (users, trend) = extra.remove(&issue.id).unwrap_or((0, vec![0; 24]));
                IssueSummary { issue, users, trend }
            })
            .collect();
        Ok::<_, sqlx::Error>(IssuePage { issues, total, page: q.page, per_page: q.per_page, now })
    });
    Ok(page.await.map_err(ServerError::from)?)
}

/// The project's totals under the filters of a URL query string (page and sort ignored).
#[server]
pub async fn get_stats(query: String) -> Result<Stats, AppError> {
    use crate::model::IssueQuery;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    super::signed_in()?;
    let project = super::dashboard_project(&st).await?.id;
    let q = IssueQuery::from_query(&query);
    let what = format!("dashboard:stats:{}", q.to_query());
    let stats = st.cache.get_or_compute(project, &what, || async {
        db::stats::filtered(&st.db, project, &q.filter(chrono::Utc::now())).await
    });
    Ok(stats.await.map_err(ServerError::from)?)
}

/// One issue with the event `event` (or its latest).
#[server]
pub async fn get_issue(id: IssueId, event: Option<ErrorId>) -> Result<IssueDetail, AppError> {
    use crate::model::IssueSummary;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    super::signed_in()?;
    let project = super::dashboard_project(&st).await?.id;
    let issue = db::issues::get(&st.db, project, id).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let now = chrono::Utc::now();
    let (users, trend) = db::issues::users_and_trends(&st.db, &[id], now)
        .await
        .map_err(ServerError::from)?
        .remove(&id)
        .unwrap_or((0, vec![0; 24]));
    let (event, position, older, newer) =
        db::errors::in_issue(&st.db, project, id, event).await.map_err(ServerError::from)?;
    let daily = db::issues::daily_counts(&st.db, id, now).await.map_err(ServerError::from)?;
    let facets = db::issues::facets(&st.db, id).await.map_err(ServerError::from)?;
    Ok(IssueDetail { summary: IssueSummary { issue, users, trend }, event, older, newer, position, daily, facets, now })
}

/// Resolves, reopens or ignores an issue.
#[server]
pub async fn set_issue_status(id: IssueId, status: IssueStatus) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let project = super::dashboard_project(&st).await?.id;
    db::issues::set_status(&st.db, project, id, status).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    super::audit(&st, &me, "issue_status", Some(project), &format!("issue {id}: {}", status.as_str())).await;
    crate::server::live::changed(&st, project, &[id]).await;
    Ok(())
}

/// Deletes an issue with all its errors.
#[server]
pub async fn delete_issue(id: IssueId) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let project = super::dashboard_project(&st).await?.id;
    if !db::issues::delete(&st.db, project, id).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "issue_delete", Some(project), &format!("issue {id}")).await;
    crate::server::live::changed(&st, project, &[id]).await;
    Ok(())
}
