//! Queries on `issues`: read, list with filters and sort, change status, list an issue's errors.

use super::search::TextSearch;
use super::{Scope, push_eq};
use crate::model::{Filter, Issue, IssueId, IssueSort, IssueStatus, Page, ProjectId};
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};

const COLUMNS: &str = "i.id, i.project_id, i.fingerprint, i.title, i.culprit, i.level, i.status, i.event_count, \
                       i.first_seen, i.last_seen, i.ignore_until_count, i.ignore_until";

#[derive(sqlx::FromRow)]
struct IssueRow {
    id: IssueId,
    project_id: ProjectId,
    fingerprint: String,
    title: String,
    culprit: String,
    level: String,
    status: String,
    event_count: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    ignore_until_count: Option<i64>,
    ignore_until: Option<DateTime<Utc>>,
}

impl TryFrom<IssueRow> for Issue {
    type Error = sqlx::Error;
    fn try_from(r: IssueRow) -> Result<Self, sqlx::Error> {
        let decode = |e: crate::model::ParseEnumError| sqlx::Error::Decode(Box::new(e));
        Ok(Issue {
            id: r.id,
            project_id: r.project_id,
            fingerprint: r.fingerprint,
            title: r.title,
            culprit: r.culprit,
            level: r.level.parse().map_err(decode)?,
            status: r.status.parse().map_err(decode)?,
            count: r.event_count,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            ignore_until_count: r.ignore_until_count,
            ignore_until: r.ignore_until,
        })
    }
}

/// One issue of `project`.
pub async fn get(db: impl PgExecutor<'_>, project: ProjectId, id: IssueId) -> sqlx::Result<Option<Issue>> {
    let sql = format!("SELECT {COLUMNS} FROM issues i WHERE i.project_id = $1 AND i.id = $2");
    let row: Option<IssueRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).bind(id).fetch_optional(db).await?;
    row.map(Issue::try_from).transpose()
}

/// Appends the conditions of `f`; its text (`f.q`) comes as `search`, planned by
/// `TextSearch::plan`.
pub(super) fn push_filter(qb: &mut QueryBuilder<Postgres>, scope: Scope, f: &Filter, search: &TextSearch) {
    qb.push(" WHERE ");
    scope.push(qb, "i.project_id");
    push_eq(qb, "i.level", f.level.map(|l| l.as_str()));
    push_eq(qb, "i.status", f.status.map(|s| s.as_str()));
    push_eq(qb, "i.id", f.issue_id);
    match f.resolved {
        Some(true) => {
            qb.push(" AND i.status = 'resolved'");
        }
        Some(false) => {
            qb.push(" AND i.status <> 'resolved'");
        }
        None => {}
    }
    push_issue_values(qb, f);
    // Several of them must hold for one error, which the per-issue values alone cannot tell: the
    // issue's rollup rows can.
    let values = [f.source.is_some(), f.environment.is_some(), f.release.is_some()];
    if values.iter().filter(|v| **v).count() > 1 {
        qb.push(" AND EXISTS (SELECT 1 FROM issue_counts c WHERE c.issue_id = i.id");
        push_eq(qb, "c.source", f.source.map(|s| s.as_str()));
        push_eq(qb, "c.environment", f.environment.as_deref());
        push_eq(qb, "c.release", f.release.as_deref());
        qb.push(")");
    }
    if let Some(pattern) = search.pattern() {
        // Issues whose title or culprit, or one of whose errors' messages, contain the text: each
        // found once through its trigram index, not per issue.
        qb.push(" AND i.id IN (SELECT t.id FROM issues t WHERE ");
        scope.push(qb, "t.project_id");
        qb.push(" AND (t.title ILIKE ")
            .push_bind(pattern.to_owned())
            .push(" OR t.culprit ILIKE ")
            .push_bind(pattern.to_owned())
            .push(") UNION SELECT m.issue_id FROM errors m WHERE ");
        scope.push(qb, "m.project_id");
        search.push_condition(qb, "m.message");
        qb.push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND i.last_seen >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND i.last_seen < ").push_bind(until);
    }
}

/// Appends, per source, environment and release filter of `f`, a condition that the issue has
/// seen that value (from `issue_values`, kept by the worker).
fn push_issue_values(qb: &mut QueryBuilder<Postgres>, f: &Filter) {
    for (key, value) in [
        ("source", f.source.map(|s| s.as_str())),
        ("environment", f.environment.as_deref()),
        ("release", f.release.as_deref()),
    ] {
        if let Some(value) = value {
            qb.push(" AND i.id IN (SELECT v.issue_id FROM issue_values v WHERE v.key = ")
                .push_bind(key)
                .push(" AND v.value = ")
                .push_bind(value.to_owned())
                .push(")");
        }
    }
}

/// A page of the issues of `scope` matching `f` in `sort` order (descending), and the total.
pub async fn list(
    db: &sqlx::PgPool,
    scope: Scope<'_>,
    f: &Filter,
    sort: IssueSort,
    page: Page,
) -> sqlx::Result<(Vec<Issue>, i64)> {
    let order = match sort {
        IssueSort::LastSeen => " ORDER BY i.last_seen DESC, i.id DESC",
        IssueSort::FirstSeen => " ORDER BY i.first_seen DESC, i.id DESC",
        IssueSort::Count => " ORDER BY i.event_count DESC, i.id DESC",
    };
    let search = TextSearch::plan(db, f.q.as_deref()).await?;
    let count = || {
        let mut count = QueryBuilder::new("SELECT count(*) FROM issues i");
        push_filter(&mut count, scope, f, &search);
        count
    };
    if f.q.is_some() {
        // A text search is costly: the page and the total come from one pass over its matches.
        let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS}, count(*) OVER () AS matched FROM issues i"));
        push_filter(&mut qb, scope, f, &search);
        qb.push(order).push(" LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows: Vec<CountedRow> = qb.build_query_as().fetch_all(db).await?;
        let total = match rows.first() {
            Some(r) => r.matched,
            None if page.offset == 0 => 0,
            None => count().build_query_scalar().fetch_one(db).await?,
        };
        let issues = rows.into_iter().map(|r| Issue::try_from(r.row)).collect::<sqlx::Result<_>>()?;
        return Ok((issues, total));
    }
    let mut count = count();
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM issues i"));
    push_filter(&mut qb, scope, f, &search);
    qb.push(order).push(" LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
    // The count and the page run at once, on two connections.
    let (total, rows): (i64, Vec<IssueRow>) =
        tokio::try_join!(count.build_query_scalar().fetch_one(db), qb.build_query_as().fetch_all(db))?;
    let issues = rows.into_iter().map(Issue::try_from).collect::<sqlx::Result<_>>()?;
    Ok((issues, total))
}

#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    row: IssueRow,
    matched: i64,
}

/// The project an issue belongs to, if it exists.
pub async fn project_of(db: impl PgExecutor<'_>, id: IssueId) -> sqlx::Result<Option<ProjectId>> {
    sqlx::query_scalar("SELECT project_id FROM issues WHERE id = $1").bind(id).fetch_optional(db).await
}

/// Sets an issue's status; answers the updated issue, or `None` if `project` has no such issue.
pub async fn set_status(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    id: IssueId,
    status: IssueStatus,
) -> sqlx::Result<Option<Issue>> {
    let sql = format!(
        "UPDATE issues i SET status = $3, ignore_until_count = NULL, ignore_until = NULL
         WHERE i.project_id = $1 AND i.id = $2 RETURNING {COLUMNS}"
    );
    let row: Option<IssueRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project)
        .bind(id)
        .bind(status.as_str())
        .fetch_optional(db)
        .await?;
    row.map(Issue::try_from).transpose()
}

/// Ignores an issue until `until`; answers the updated issue, or `None` if `project` has no such
/// issue.
pub async fn ignore(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    id: IssueId,
    until: crate::model::IgnoreUntil,
) -> sqlx::Result<Option<Issue>> {
    use crate::model::IgnoreUntil;
    let (more, time) = match until {
        IgnoreUntil::Forever => (None, None),
        IgnoreUntil::Events(n) => (Some(n), None),
        IgnoreUntil::Time(t) => (None, Some(t)),
    };
    let sql = format!(
        "UPDATE issues i SET status = 'ignored', ignore_until_count = i.event_count + $3, ignore_until = $4
         WHERE i.project_id = $1 AND i.id = $2 RETURNING {COLUMNS}"
    );
    let row: Option<IssueRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project)
        .bind(id)
        .bind(more)
        .bind(time)
        .fetch_optional(db)
        .await?;
    row.map(Issue::try_from).transpose()
}

/// Per issue: distinct users, and errors per UTC hour over the 24 hours up to `now`'s (oldest
/// first, from the rollups).
pub async fn users_and_trends(
    db: &sqlx::PgPool,
    ids: &[IssueId],
    now: DateTime<Utc>,
) -> sqlx::Result<std::collections::HashMap<IssueId, (i64, Vec<i64>)>> {
    let raw: Vec<i64> = ids.iter().map(|i| i.get()).collect();
    let users = sqlx::query_as::<_, (IssueId, i64)>(
        "SELECT issue_id, count(DISTINCT COALESCE(context->'user'->>'id', context->'user'->>'email',
                                                  context->'user'->>'username', context->'user'->>'ip_address'))
         FROM errors WHERE issue_id = ANY($1) GROUP BY issue_id",
    )
    .bind(&raw)
    .fetch_all(db);
    let (users, mut hours) = tokio::try_join!(users, super::counts::hourly(db, &raw, now))?;
    let mut out: std::collections::HashMap<IssueId, (i64, Vec<i64>)> =
        ids.iter().map(|i| (*i, (0, hours.remove(i).unwrap_or_else(|| vec![0; 24])))).collect();
    for (id, n) in users {
        if let Some(slot) = out.get_mut(&id) {
            slot.0 = n;
        }
    }
    Ok(out)
}

/// Deletes an issue and its errors, taking them off the rollups; answers whether it existed.
pub async fn delete(db: &sqlx::PgPool, project: ProjectId, id: IssueId) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let found: Option<IssueId> =
        sqlx::query_scalar("SELECT id FROM issues WHERE project_id = $1 AND id = $2 FOR UPDATE")
            .bind(project)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(id) = found else { return Ok(false) };
    super::counts::uncount_issues(&mut tx, &[id.get()]).await?;
    sqlx::query("DELETE FROM issues WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// The top five values of each tag among the issue's latest 10,000 events: environment,
/// release, browser, os, server name, and the events' own tags (as `tag:<name>`).
pub async fn facets(db: &sqlx::PgPool, id: IssueId) -> sqlx::Result<Vec<crate::model::TagFacet>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "WITH recent AS (
             SELECT environment, release, context FROM errors WHERE issue_id = $1
             ORDER BY timestamp DESC LIMIT 10000
         ), pairs AS (
             SELECT 'environment' AS key, environment AS value FROM recent
             UNION ALL SELECT 'release', release FROM recent
             UNION ALL SELECT 'browser', concat_ws(' ', context->'contexts'->'browser'->>'name',
                                                  context->'contexts'->'browser'->>'version') FROM recent
             UNION ALL SELECT 'os', concat_ws(' ', context->'contexts'->'os'->>'name',
                                             context->'contexts'->'os'->>'version') FROM recent
             UNION ALL SELECT 'server_name', context->>'server_name' FROM recent
             UNION ALL SELECT 'tag:' || t.key, t.value FROM recent,
                 jsonb_each_text(CASE WHEN jsonb_typeof(context->'tags') = 'object' THEN context->'tags' ELSE '{}' END) t
         )
         SELECT key, value, count(*) FROM pairs WHERE value IS NOT NULL AND value <> '' GROUP BY key, value",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    let mut by_key: std::collections::BTreeMap<String, Vec<(String, i64)>> = Default::default();
    for (key, value, n) in rows {
        by_key.entry(key).or_default().push((value, n));
    }
    let order =
        |k: &str| ["environment", "release", "browser", "os", "server_name"].iter().position(|x| *x == k).unwrap_or(5);
    let mut facets: Vec<crate::model::TagFacet> = by_key
        .into_iter()
        .map(|(key, mut values)| {
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let total = values.iter().map(|v| v.1).sum();
            values.truncate(5);
            crate::model::TagFacet { key, total, values }
        })
        .collect();
    facets.sort_by(|a, b| order(&a.key).cmp(&order(&b.key)).then_with(|| a.key.cmp(&b.key)));
    Ok(facets)
}
