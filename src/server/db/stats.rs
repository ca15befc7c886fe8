//! The aggregate counts behind `GET /api/stats`.

use super::Scope;
use crate::model::{ByLevel, BySource, Filter, IssueCounts, ProjectId, Stats};
use sqlx::QueryBuilder;

#[derive(sqlx::FromRow)]
struct ErrorCounts {
    total: i64,
    resolved: i64,
    last_24h: i64,
    fatal: i64,
    error: i64,
    warning: i64,
    info: i64,
    debug: i64,
    frontend: i64,
    backend: i64,
    api: i64,
}

#[derive(sqlx::FromRow)]
struct IssueRow {
    total: i64,
    unresolved: i64,
    resolved: i64,
    ignored: i64,
}

/// Counts of `project`'s errors (by resolution, level, source, last 24 h) and issues (by
/// status).
pub async fn for_project(db: &sqlx::PgPool, project: ProjectId) -> sqlx::Result<Stats> {
    filtered(db, project.into(), &Filter::default()).await
}

/// The same counts over the errors matching `f`, and the issues matching `f` apart from its
/// status (so the issue counts by status stay meaningful under a status filter).
pub async fn filtered(db: &sqlx::PgPool, scope: Scope<'_>, f: &Filter) -> sqlx::Result<Stats> {
    let mut errors = QueryBuilder::new(
        "SELECT count(*) AS total,
                count(*) FILTER (WHERE i.status = 'resolved') AS resolved,
                count(*) FILTER (WHERE e.timestamp >= now() - interval '24 hours') AS last_24h,
                count(*) FILTER (WHERE e.level = 'fatal') AS fatal,
                count(*) FILTER (WHERE e.level = 'error') AS error,
                count(*) FILTER (WHERE e.level = 'warning') AS warning,
                count(*) FILTER (WHERE e.level = 'info') AS info,
                count(*) FILTER (WHERE e.level = 'debug') AS debug,
                count(*) FILTER (WHERE e.source = 'frontend') AS frontend,
                count(*) FILTER (WHERE e.source = 'backend') AS backend,
                count(*) FILTER (WHERE e.source = 'api') AS api
         FROM errors e JOIN issues i ON i.id = e.issue_id",
    );
    let search = super::search::TextSearch::plan(db, f.q.as_deref()).await?;
    super::errors::push_filter(&mut errors, scope, f, &search);
    let e: ErrorCounts = errors.build_query_as().fetch_one(db).await?;
    let mut issues = QueryBuilder::new(
        "SELECT count(*) AS total,
                count(*) FILTER (WHERE i.status = 'unresolved') AS unresolved,
                count(*) FILTER (WHERE i.status = 'resolved') AS resolved,
                count(*) FILTER (WHERE i.status = 'ignored') AS ignored
         FROM issues i",
    );
    let any_status = Filter { status: None, resolved: None, ..f.clone() };
    super::issues::push_filter(&mut issues, scope, &any_status, &search);
    let i: IssueRow = issues.build_query_as().fetch_one(db).await?;
    Ok(Stats {
        total: e.total,
        unresolved: e.total - e.resolved,
        resolved: e.resolved,
        last_24h: e.last_24h,
        by_level: ByLevel { fatal: e.fatal, error: e.error, warning: e.warning, info: e.info, debug: e.debug },
        by_source: BySource { frontend: e.frontend, backend: e.backend, api: e.api },
        issues: IssueCounts { total: i.total, unresolved: i.unresolved, resolved: i.resolved, ignored: i.ignored },
    })
}
