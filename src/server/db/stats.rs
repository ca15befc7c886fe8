//! The aggregate counts behind `GET /api/stats` and the dashboard's cards, from the rollups.

use super::Scope;
use super::counts::{Totals, totals};
use crate::model::{ByLevel, BySource, Filter, IssueCounts, ProjectId, Stats};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

#[derive(sqlx::FromRow)]
struct IssueRow {
    total: i64,
    unresolved: i64,
    resolved: i64,
    ignored: i64,
}

/// Counts of `project`'s errors (by resolution, level, source, last 24 h) and issues (by
/// status).
pub async fn for_project(db: &sqlx::PgPool, project: ProjectId, now: DateTime<Utc>) -> sqlx::Result<Stats> {
    filtered(db, project.into(), &Filter::default(), now).await
}

/// The same counts over the errors matching `f`, and the issues matching `f` apart from its
/// status (so the issue counts by status stay meaningful under a status filter).
pub async fn filtered(db: &sqlx::PgPool, scope: Scope<'_>, f: &Filter, now: DateTime<Utc>) -> sqlx::Result<Stats> {
    let day_ago = now - chrono::TimeDelta::hours(24);
    let recent = Filter { since: Some(f.since.map_or(day_ago, |s| s.max(day_ago))), ..f.clone() };
    // Under a period of a day or less, the last 24 hours are all of it.
    let same = recent.since == f.since;
    let (e, recent): (Totals, Option<Totals>) = tokio::try_join!(totals(db, scope, f), async {
        if same { Ok(None) } else { totals(db, scope, &recent).await.map(Some) }
    })?;
    let last_24h = recent.map_or(e.total, |r| r.total);
    let mut issues = QueryBuilder::new(
        "SELECT count(*) AS total,
                count(*) FILTER (WHERE i.status = 'unresolved') AS unresolved,
                count(*) FILTER (WHERE i.status = 'resolved') AS resolved,
                count(*) FILTER (WHERE i.status = 'ignored') AS ignored
         FROM issues i",
    );
    let search = super::search::TextSearch::plan(db, f.q.as_deref()).await?;
    let any_status = Filter { status: None, resolved: None, ..f.clone() };
    super::issues::push_filter(&mut issues, scope, &any_status, &search);
    let i: IssueRow = issues.build_query_as().fetch_one(db).await?;
    Ok(Stats {
        total: e.total,
        unresolved: e.total - e.resolved,
        resolved: e.resolved,
        last_24h,
        by_level: ByLevel { fatal: e.fatal, error: e.error, warning: e.warning, info: e.info, debug: e.debug },
        by_source: BySource { frontend: e.frontend, backend: e.backend, api: e.api },
        issues: IssueCounts { total: i.total, unresolved: i.unresolved, resolved: i.resolved, ignored: i.ignored },
    })
}
