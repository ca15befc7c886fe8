//! What the database holds, by day: the errors' day partitions (created ahead, dropped by
//! retention and the budget), removals of single rows (a project's shorter retention, the
//! per-issue limit) with their rollups, the log of what went, and the sizes the storage panel
//! and the budget read.

use super::counts::{Counted, Deltas};
use crate::model::{IssueId, ProjectId, RemovalReason};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::{PgExecutor, PgPool};

/// Makes sure `days` (UTC) have their partitions of `errors`. DDL, so run it outside the
/// transaction that inserts; safe against a concurrent server doing the same.
pub async fn ensure_partitions(db: impl PgExecutor<'_>, days: &[NaiveDate]) -> sqlx::Result<()> {
    sqlx::query("SELECT faultline_errors_partition(d) FROM UNNEST($1::date[]) AS d").bind(days).execute(db).await?;
    Ok(())
}

/// One day's partition of `errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub day: NaiveDate,
    /// Table, indexes and TOAST.
    pub bytes: i64,
}

/// The day partitions, oldest first.
pub async fn partitions(db: &PgPool) -> sqlx::Result<Vec<Partition>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, pg_total_relation_size(c.oid)
         FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace
         WHERE p.relname = 'errors' AND n.nspname = current_schema()",
    )
    .fetch_all(db)
    .await?;
    let mut out: Vec<Partition> = rows
        .into_iter()
        .filter_map(|(name, bytes)| {
            let day = NaiveDate::parse_from_str(name.strip_prefix("errors_")?, "%Y%m%d").ok()?;
            Some(Partition { name, day, bytes })
        })
        .collect();
    out.sort_by_key(|p| p.day);
    Ok(out)
}

/// Drops one day of errors and its rollups, and logs it; answers how many errors went. Waits at
/// most ten seconds for the table (a long read may hold it; the next sweep tries again).
pub async fn drop_partition(db: &PgPool, p: &Partition, reason: RemovalReason) -> sqlx::Result<i64> {
    let from = p.day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or(sqlx::Error::RowNotFound)?;
    let to = from + TimeDelta::days(1);
    let mut tx = db.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *tx).await?;
    // `name` is one `partitions` parsed as errors_YYYYMMDD: nothing else reaches this SQL.
    sqlx::query(sqlx::AssertSqlSafe(format!("LOCK TABLE \"{}\" IN ACCESS EXCLUSIVE MODE", p.name)))
        .execute(&mut *tx)
        .await?;
    // The day's rollup rows are exactly its errors' (both are by the errors' timestamps).
    let total: i64 = sqlx::query_scalar(
        "WITH d AS (DELETE FROM project_counts WHERE hour >= $1 AND hour < $2 RETURNING count)
         SELECT COALESCE(sum(count), 0)::bigint FROM d",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM issue_counts WHERE hour >= $1 AND hour < $2")
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{}\"", p.name))).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO storage_removals (reason, day, errors, bytes) VALUES ($1, $2, $3, $4)")
        .bind(reason.as_str())
        .bind(p.day)
        .bind(total)
        .bind(p.bytes)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(total)
}

/// Which single errors a removal takes.
#[derive(Clone, Copy, Debug)]
pub enum Rows {
    /// A project's errors older than a time (its own, shorter retention).
    Before(ProjectId, DateTime<Utc>),
    /// An issue's oldest errors.
    OldestOf(IssueId),
}

#[derive(sqlx::FromRow)]
struct Removed {
    project_id: i64,
    issue_id: i64,
    timestamp: DateTime<Utc>,
    level: String,
    source: String,
    environment: Option<String>,
    release: Option<String>,
}

/// Deletes at most `limit` errors `which` selects, and takes them off the rollups, in one
/// transaction; answers how many went. The issues' event counts keep counting them.
pub async fn delete_rows(db: &PgPool, which: Rows, limit: i64) -> sqlx::Result<i64> {
    let mut tx = db.begin().await?;
    const RETURNING: &str = "RETURNING project_id, issue_id, timestamp, level, source, environment, release";
    let query = match which {
        Rows::Before(project, before) => sqlx::query_as::<_, Removed>(sqlx::AssertSqlSafe(format!(
            "DELETE FROM errors WHERE (id, timestamp) IN (
                 SELECT id, timestamp FROM errors WHERE project_id = $1 AND timestamp < $2 ORDER BY timestamp LIMIT $3)
             {RETURNING}"
        )))
        .bind(project)
        .bind(before),
        Rows::OldestOf(issue) => sqlx::query_as::<_, Removed>(sqlx::AssertSqlSafe(format!(
            "DELETE FROM errors WHERE (id, timestamp) IN (
                 SELECT id, timestamp FROM errors WHERE issue_id = $1 ORDER BY timestamp, id LIMIT $2)
             {RETURNING}"
        )))
        .bind(issue),
    };
    let removed: Vec<Removed> = query.bind(limit).fetch_all(&mut *tx).await?;
    if removed.is_empty() {
        return Ok(0);
    }
    // The issues' statuses, held until the commit, so no status change moves these counts
    // between our read and our write.
    let mut ids: Vec<i64> = removed.iter().map(|r| r.issue_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let status: std::collections::HashMap<i64, String> =
        sqlx::query_as("SELECT id, status FROM issues WHERE id = ANY($1) ORDER BY id FOR SHARE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut deltas = Deltas::default();
    for r in &removed {
        let Some(status) = status.get(&r.issue_id) else { continue };
        deltas.add(
            Counted {
                project: r.project_id,
                issue: r.issue_id,
                status,
                timestamp: r.timestamp,
                level: &r.level,
                source: &r.source,
                environment: r.environment.as_deref(),
                release: r.release.as_deref(),
            },
            -1,
        );
    }
    deltas.apply(&mut tx).await?;
    tx.commit().await?;
    Ok(i64::try_from(removed.len()).unwrap_or(i64::MAX))
}

/// Issues seen since `since` with more than `max` stored errors, and by how many.
pub async fn over_limit(db: &PgPool, since: DateTime<Utc>, max: i64) -> sqlx::Result<Vec<(IssueId, ProjectId, i64)>> {
    sqlx::query_as(
        "SELECT i.id, i.project_id, s.n - $2
         FROM issues i
         CROSS JOIN LATERAL (SELECT COALESCE(sum(c.count), 0)::bigint AS n FROM issue_counts c WHERE c.issue_id = i.id) s
         WHERE i.last_seen >= $1 AND s.n > $2",
    )
    .bind(since)
    .bind(max)
    .fetch_all(db)
    .await
}

/// Projects whose own retention is set: `(id, days)`.
pub async fn project_retention(db: &PgPool) -> sqlx::Result<Vec<(ProjectId, i32)>> {
    sqlx::query_as("SELECT id, retention_days FROM projects WHERE retention_days IS NOT NULL ORDER BY id")
        .fetch_all(db)
        .await
}

/// Sets (or, with `None`, clears) a project's own retention.
pub async fn set_project_retention(db: impl PgExecutor<'_>, project: ProjectId, days: Option<i32>) -> sqlx::Result<()> {
    sqlx::query("UPDATE projects SET retention_days = $2 WHERE id = $1").bind(project).bind(days).execute(db).await?;
    Ok(())
}

/// Deletes resolved issues last seen before `before` that hold no stored error; answers how
/// many went.
pub async fn age_out_resolved(db: &PgPool, before: DateTime<Utc>) -> sqlx::Result<i64> {
    let gone: Vec<(ProjectId,)> = sqlx::query_as(
        "DELETE FROM issues i WHERE i.status = 'resolved' AND i.last_seen < $1
           AND NOT EXISTS (SELECT 1 FROM issue_counts c WHERE c.issue_id = i.id AND c.count > 0)
         RETURNING i.project_id",
    )
    .bind(before)
    .fetch_all(db)
    .await?;
    let mut by_project: std::collections::BTreeMap<ProjectId, i64> = Default::default();
    for (p,) in &gone {
        *by_project.entry(*p).or_default() += 1;
    }
    for (project, n) in &by_project {
        log(db, RemovalReason::Resolved, Some(*project), 0, *n).await?;
    }
    Ok(i64::try_from(gone.len()).unwrap_or(i64::MAX))
}

/// Logs a removal of single rows (or issues).
pub async fn log(
    db: impl PgExecutor<'_>,
    reason: RemovalReason,
    project: Option<ProjectId>,
    errors: i64,
    issues: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO storage_removals (reason, project_id, errors, issues) VALUES ($1, $2, $3, $4)")
        .bind(reason.as_str())
        .bind(project)
        .bind(errors)
        .bind(issues)
        .execute(db)
        .await?;
    Ok(())
}

/// The database's size on disk.
pub async fn database_size(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(db).await
}

/// PostgreSQL's data directory, when this role may read it (superuser or
/// `pg_read_all_settings`).
pub async fn data_directory(db: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'data_directory'").fetch_optional(db).await.ok()?
}

/// One project's stored errors, oldest stored hour (from the rollups) and own retention.
#[derive(sqlx::FromRow)]
pub struct ProjectHolding {
    pub id: ProjectId,
    pub name: String,
    pub errors: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub retention_days: Option<i32>,
}

/// Every project's holding, by name.
pub async fn per_project(db: &PgPool) -> sqlx::Result<Vec<ProjectHolding>> {
    sqlx::query_as(
        "SELECT p.id, p.name, COALESCE(s.n, 0)::bigint AS errors, s.oldest, p.retention_days
         FROM projects p
         LEFT JOIN (SELECT project_id, sum(count) AS n, min(hour) FILTER (WHERE count > 0) AS oldest
                    FROM project_counts GROUP BY project_id) s ON s.project_id = p.id
         ORDER BY p.name, p.id",
    )
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct RemovalRow {
    at: DateTime<Utc>,
    reason: String,
    project: Option<String>,
    day: Option<NaiveDate>,
    errors: i64,
    issues: i64,
    bytes: i64,
}

/// The latest removals, newest first: all of them, or (with `project`) that project's and the
/// whole days'.
pub async fn removals(db: &PgPool, project: Option<ProjectId>, limit: i64) -> sqlx::Result<Vec<crate::model::Removal>> {
    let rows: Vec<RemovalRow> = sqlx::query_as(
        "SELECT r.at, r.reason, p.name AS project, r.day, r.errors, r.issues, r.bytes
         FROM storage_removals r LEFT JOIN projects p ON p.id = r.project_id
         WHERE $2::bigint IS NULL OR r.project_id IS NULL OR r.project_id = $2
         ORDER BY r.at DESC, r.id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(project)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(crate::model::Removal {
                at: r.at,
                reason: r.reason.parse().ok()?,
                project: r.project,
                day: r.day,
                errors: r.errors,
                issues: r.issues,
                bytes: u64::try_from(r.bytes).unwrap_or(0),
            })
        })
        .collect())
}

/// Forgets removals logged before `before`.
pub async fn prune_removals(db: &PgPool, before: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM storage_removals WHERE at < $1").bind(before).execute(db).await?;
    Ok(())
}
