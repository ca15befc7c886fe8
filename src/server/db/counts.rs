//! The hourly rollups of stored errors (`issue_counts`, `project_counts`): changed in the same
//! transactions that store and delete errors, and read for totals, charts and filters so that
//! none of them scans the errors.

use super::Scope;
use super::search::TextSearch;
use crate::model::{Filter, IssueId};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::BTreeMap;

/// The UTC hour `t` falls in.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// The first hour boundary at or after `t`.
fn hour_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let h = hour_of(t);
    if h == t { h } else { h + TimeDelta::hours(1) }
}

/// What one error adds to (or, negated, takes from) the rollups.
#[derive(Clone, Copy, Debug)]
pub struct Counted<'a> {
    pub project: i64,
    pub issue: i64,
    /// The issue's status once the transaction is done.
    pub status: &'a str,
    pub timestamp: DateTime<Utc>,
    pub level: &'a str,
    pub source: &'a str,
    pub environment: Option<&'a str>,
    pub release: Option<&'a str>,
}

type IssueKey<'a> = (i64, DateTime<Utc>, &'a str, &'a str, &'a str, &'a str);
type ProjectKey<'a> = (i64, DateTime<Utc>, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Changes to both rollups, summed per row and applied in key order (so concurrent
/// transactions lock rows in one order).
#[derive(Default)]
pub struct Deltas<'a> {
    issue: BTreeMap<IssueKey<'a>, i64>,
    project: BTreeMap<ProjectKey<'a>, i64>,
}

impl<'a> Deltas<'a> {
    /// Adds `n` errors like `c` (negative: removes them).
    pub fn add(&mut self, c: Counted<'a>, n: i64) {
        let hour = hour_of(c.timestamp);
        let (env, release) = (c.environment.unwrap_or(""), c.release.unwrap_or(""));
        *self.issue.entry((c.issue, hour, c.level, c.source, env, release)).or_default() += n;
        *self.project.entry((c.project, hour, c.level, c.source, env, release, c.status)).or_default() += n;
    }

    /// Writes the changes.
    pub async fn apply(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if self.issue.is_empty() {
            return Ok(());
        }
        let mut cols = Columns::default();
        for ((issue, hour, level, source, env, release), n) in &self.issue {
            cols.push(*issue, *hour, level, source, env, release, *n);
        }
        sqlx::query(
            "INSERT INTO issue_counts AS c (issue_id, hour, level, source, environment, release, count)
             SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::bigint[])
             ON CONFLICT (issue_id, hour, level, source, environment, release)
             DO UPDATE SET count = c.count + EXCLUDED.count",
        )
        .bind(&cols.id)
        .bind(&cols.hour)
        .bind(&cols.level)
        .bind(&cols.source)
        .bind(&cols.env)
        .bind(&cols.release)
        .bind(&cols.n)
        .execute(&mut *conn)
        .await?;
        let mut cols = Columns::default();
        let mut status = Vec::with_capacity(self.project.len());
        for ((project, hour, level, source, env, release, s), n) in &self.project {
            cols.push(*project, *hour, level, source, env, release, *n);
            status.push(*s);
        }
        sqlx::query(
            "INSERT INTO project_counts AS c (project_id, hour, level, source, environment, release, count, status)
             SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::bigint[], $8::text[])
             ON CONFLICT (project_id, hour, level, source, environment, release, status)
             DO UPDATE SET count = c.count + EXCLUDED.count",
        )
        .bind(&cols.id)
        .bind(&cols.hour)
        .bind(&cols.level)
        .bind(&cols.source)
        .bind(&cols.env)
        .bind(&cols.release)
        .bind(&cols.n)
        .bind(&status)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[derive(Default)]
struct Columns<'a> {
    id: Vec<i64>,
    hour: Vec<DateTime<Utc>>,
    level: Vec<&'a str>,
    source: Vec<&'a str>,
    env: Vec<&'a str>,
    release: Vec<&'a str>,
    n: Vec<i64>,
}

impl<'a> Columns<'a> {
    #[expect(clippy::too_many_arguments, reason = "one row of the rollup's key and its count")]
    fn push(
        &mut self,
        id: i64,
        hour: DateTime<Utc>,
        level: &'a str,
        source: &'a str,
        env: &'a str,
        release: &'a str,
        n: i64,
    ) {
        self.id.push(id);
        self.hour.push(hour);
        self.level.push(level);
        self.source.push(source);
        self.env.push(env);
        self.release.push(release);
        self.n.push(n);
    }
}

/// Takes the counts of issues about to be deleted off their projects' totals (their own rows go
/// with them). Call with the issues locked, before deleting them.
pub async fn uncount_issues(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO project_counts AS p (project_id, hour, level, source, environment, release, status, count)
         SELECT i.project_id, c.hour, c.level, c.source, c.environment, c.release, i.status, -sum(c.count)
         FROM issue_counts c JOIN issues i ON i.id = c.issue_id
         WHERE i.id = ANY($1)
         GROUP BY 1, 2, 3, 4, 5, 6, 7
         ORDER BY 1, 2, 3, 4, 5, 6, 7
         ON CONFLICT (project_id, hour, level, source, environment, release, status)
         DO UPDATE SET count = p.count + EXCLUDED.count",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts of the stored errors matching a filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    pub total: i64,
    pub resolved: i64,
    pub fatal: i64,
    pub error: i64,
    pub warning: i64,
    pub info: i64,
    pub debug: i64,
    pub frontend: i64,
    pub backend: i64,
    pub api: i64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Self) {
        self.total += o.total;
        self.resolved += o.resolved;
        self.fatal += o.fatal;
        self.error += o.error;
        self.warning += o.warning;
        self.info += o.info;
        self.debug += o.debug;
        self.frontend += o.frontend;
        self.backend += o.backend;
        self.api += o.api;
    }
}

/// The select list of `Totals`: `n` is what one row counts, `t` the table's alias, `status`
/// the status column.
fn sums(n: &str, t: &str, status: &str) -> String {
    let sum = |cond: &str| format!("COALESCE(sum({n}) FILTER (WHERE {cond}), 0)::bigint");
    format!(
        "COALESCE(sum({n}), 0)::bigint AS total, {} AS resolved, {} AS fatal, {} AS error, {} AS warning, \
         {} AS info, {} AS debug, {} AS frontend, {} AS backend, {} AS api",
        sum(&format!("{status} = 'resolved'")),
        sum(&format!("{t}.level = 'fatal'")),
        sum(&format!("{t}.level = 'error'")),
        sum(&format!("{t}.level = 'warning'")),
        sum(&format!("{t}.level = 'info'")),
        sum(&format!("{t}.level = 'debug'")),
        sum(&format!("{t}.source = 'frontend'")),
        sum(&format!("{t}.source = 'backend'")),
        sum(&format!("{t}.source = 'api'")),
    )
}

/// The counts of `scope`'s stored errors matching `f`. Whole hours come from the rollups; the
/// parts of hours at the ends of `f`'s time range, and any text search, from the errors
/// themselves (by their time and trigram indexes).
pub async fn totals(db: &sqlx::PgPool, scope: Scope<'_>, f: &Filter) -> sqlx::Result<Totals> {
    if let (Some(since), Some(until)) = (f.since, f.until)
        && since >= until
    {
        return Ok(Totals::default());
    }
    let search = TextSearch::plan(db, f.q.as_deref()).await?;
    if search.pattern().is_some() {
        return scanned(db, scope, f, &search).await;
    }
    let (lo, hi) = (f.since.map(hour_after), f.until.map(hour_of));
    if let (Some(lo), Some(hi)) = (lo, hi)
        && lo >= hi
    {
        return scanned(db, scope, f, &search).await;
    }
    let mut out = rolled_up(db, scope, f, lo, hi).await?;
    if let (Some(since), Some(lo)) = (f.since, lo)
        && since < lo
    {
        out += scanned(db, scope, &Filter { until: Some(lo), ..f.clone() }, &search).await?;
    }
    if let (Some(until), Some(hi)) = (f.until, hi)
        && hi < until
    {
        out += scanned(db, scope, &Filter { since: Some(hi), ..f.clone() }, &search).await?;
    }
    Ok(out)
}

/// The counts over the whole hours `[lo, hi)` from the rollups: the project rollup, or the
/// issue's when `f` is about one issue.
async fn rolled_up(
    db: &sqlx::PgPool,
    scope: Scope<'_>,
    f: &Filter,
    lo: Option<DateTime<Utc>>,
    hi: Option<DateTime<Utc>>,
) -> sqlx::Result<Totals> {
    let mut qb = QueryBuilder::new("SELECT ");
    let status = if let Some(issue) = f.issue_id {
        qb.push(sums("c.count", "c", "i.status"));
        qb.push(" FROM issue_counts c JOIN issues i ON i.id = c.issue_id WHERE ");
        scope.push(&mut qb, "i.project_id");
        qb.push(" AND c.issue_id = ").push_bind(issue);
        "i.status"
    } else {
        qb.push(sums("c.count", "c", "c.status"));
        qb.push(" FROM project_counts c WHERE ");
        scope.push(&mut qb, "c.project_id");
        "c.status"
    };
    push_values(&mut qb, f, status);
    if let Some(lo) = lo {
        qb.push(" AND c.hour >= ").push_bind(lo);
    }
    if let Some(hi) = hi {
        qb.push(" AND c.hour < ").push_bind(hi);
    }
    qb.build_query_as().fetch_one(db).await
}

/// Appends `f`'s conditions on the rollups' columns (`status` names the status column).
fn push_values(qb: &mut QueryBuilder<Postgres>, f: &Filter, status: &str) {
    super::push_eq(qb, "c.level", f.level.map(|l| l.as_str()));
    super::push_eq(qb, "c.source", f.source.map(|s| s.as_str()));
    super::push_eq(qb, "c.environment", f.environment.as_deref());
    super::push_eq(qb, "c.release", f.release.as_deref());
    super::push_eq(qb, status, f.status.map(|s| s.as_str()));
    match f.resolved {
        Some(true) => {
            qb.push(format!(" AND {status} = 'resolved'"));
        }
        Some(false) => {
            qb.push(format!(" AND {status} <> 'resolved'"));
        }
        None => {}
    }
}

/// The same counts read from the errors themselves: for text searches, the ends of time ranges,
/// and tests that check the rollups against the rows.
pub async fn scanned(db: &sqlx::PgPool, scope: Scope<'_>, f: &Filter, search: &TextSearch) -> sqlx::Result<Totals> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM errors e JOIN issues i ON i.id = e.issue_id",
        sums("1", "e", "i.status")
    ));
    super::errors::push_filter(&mut qb, scope, f, search);
    qb.build_query_as().fetch_one(db).await
}

/// Per issue: errors per UTC hour over the 24 hours up to and including `now`'s, oldest first.
pub async fn hourly(
    db: &sqlx::PgPool,
    ids: &[i64],
    now: DateTime<Utc>,
) -> sqlx::Result<std::collections::HashMap<IssueId, Vec<i64>>> {
    let last = hour_of(now);
    let rows: Vec<(IssueId, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT issue_id, hour, sum(count)::bigint FROM issue_counts
         WHERE issue_id = ANY($1) AND hour > $2 - interval '24 hours' AND hour <= $2
         GROUP BY 1, 2",
    )
    .bind(ids)
    .bind(last)
    .fetch_all(db)
    .await?;
    let mut out: std::collections::HashMap<IssueId, Vec<i64>> = std::collections::HashMap::new();
    for (id, hour, n) in rows {
        let ago = (last - hour).num_hours();
        if let Ok(ago) = usize::try_from(ago)
            && ago < 24
        {
            out.entry(id).or_insert_with(|| vec![0; 24])[23 - ago] += n;
        }
    }
    Ok(out)
}

/// An issue's errors per UTC day over the 30 days up to and including `now`'s, oldest first.
pub async fn daily(db: &sqlx::PgPool, id: IssueId, now: DateTime<Utc>) -> sqlx::Result<Vec<i64>> {
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let rows: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT date_trunc('day', hour, 'UTC'), sum(count)::bigint FROM issue_counts
         WHERE issue_id = $1 AND hour >= $2 - interval '29 days' AND hour < $2 + interval '1 day'
         GROUP BY 1",
    )
    .bind(id)
    .bind(today)
    .fetch_all(db)
    .await?;
    let mut out = vec![0; 30];
    for (day, n) in rows {
        if let Ok(ago) = usize::try_from((today - day).num_days())
            && ago < 30
        {
            out[29 - ago] += n;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_down_and_up_to_their_boundaries() {
        let t: DateTime<Utc> = "2026-12-03T10:42:07Z".parse().unwrap();
        assert_eq!(hour_of(t), "2026-12-03T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(hour_after(t), "2026-12-03T11:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let whole: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        assert_eq!(hour_after(whole), whole);
    }

    #[test]
    fn deltas_sum_errors_of_one_row_and_keep_rows_apart_by_status() {
        let t: DateTime<Utc> = "2026-12-03T10:42:07Z".parse().unwrap();
        let c = Counted {
            project: 1,
            issue: 7,
            status: "unresolved",
            timestamp: t,
            level: "error",
            source: "backend",
            environment: Some("production"),
            release: None,
        };
        let mut d = Deltas::default();
        d.add(c, 1);
        d.add(Counted { timestamp: t + TimeDelta::minutes(10), ..c }, 1);
        d.add(Counted { status: "resolved", ..c }, -1);
        assert_eq!(d.issue.len(), 1);
        assert_eq!(d.issue.values().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(d.project.len(), 2);
    }
}
