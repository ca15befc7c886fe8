//! Queries on `errors`: read one, list with filters, delete.

use super::search::TextSearch;
use super::{Scope, push_eq};
use crate::model::{ErrorEvent, ErrorId, Filter, IssueId, Page, ProjectId};
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

/// The columns of an `ErrorEvent`, from `errors e JOIN issues i`.
const COLUMNS: &str = "e.id, e.project_id, e.issue_id, e.event_id, e.timestamp, e.received_at, e.level, \
     e.message, e.stack_trace, e.context, e.source, e.url, e.fingerprint, \
     (i.status = 'resolved') AS resolved, e.environment, e.release, e.platform, e.detail";

#[derive(sqlx::FromRow)]
struct ErrorRow {
    id: ErrorId,
    project_id: ProjectId,
    issue_id: IssueId,
    event_id: Uuid,
    timestamp: DateTime<Utc>,
    received_at: DateTime<Utc>,
    level: String,
    message: String,
    stack_trace: Option<String>,
    context: serde_json::Value,
    source: String,
    url: Option<String>,
    fingerprint: String,
    resolved: bool,
    environment: Option<String>,
    release: Option<String>,
    platform: Option<String>,
    detail: Option<Vec<u8>>,
}

impl TryFrom<ErrorRow> for ErrorEvent {
    type Error = sqlx::Error;
    fn try_from(r: ErrorRow) -> Result<Self, sqlx::Error> {
        let decode = |e: crate::model::ParseEnumError| sqlx::Error::Decode(Box::new(e));
        let mut context = r.context;
        // A document that cannot be read degrades this error only: it is shown without the
        // parts the document held, saying why, and every other row of a list still comes back.
        if let Some(stored) = &r.detail
            && let Err(e) = crate::server::detail::merge_into(&mut context, stored)
        {
            tracing::warn!(error.id = %r.id, error = %e, "stored detail unreadable; shown without it");
            if let Some(ctx) = context.as_object_mut() {
                ctx.insert("detail_error".into(), serde_json::Value::String(e.to_string()));
            }
        }
        Ok(ErrorEvent {
            id: r.id,
            project_id: r.project_id,
            issue_id: r.issue_id,
            event_id: r.event_id.simple().to_string(),
            timestamp: r.timestamp,
            received_at: r.received_at,
            level: r.level.parse().map_err(decode)?,
            message: r.message,
            stack_trace: r.stack_trace,
            context,
            source: r.source.parse().map_err(decode)?,
            url: r.url,
            fingerprint: r.fingerprint,
            resolved: r.resolved,
            environment: r.environment,
            release: r.release,
            platform: r.platform,
        })
    }
}

/// One error of `project`.
pub async fn get(db: impl PgExecutor<'_>, project: ProjectId, id: ErrorId) -> sqlx::Result<Option<ErrorEvent>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM errors e JOIN issues i ON i.id = e.issue_id WHERE e.project_id = $1 AND e.id = $2"
    );
    let row: Option<ErrorRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).bind(id).fetch_optional(db).await?;
    row.map(ErrorEvent::try_from).transpose()
}

/// Appends the conditions of `f`; its text (`f.q`) comes as `search`, planned by
/// `TextSearch::plan`.
pub(super) fn push_filter(qb: &mut QueryBuilder<Postgres>, scope: Scope, f: &Filter, search: &TextSearch) {
    qb.push(" WHERE ");
    scope.push(qb, "e.project_id");
    push_eq(qb, "e.level", f.level.map(|l| l.as_str()));
    push_eq(qb, "e.source", f.source.map(|s| s.as_str()));
    push_eq(qb, "i.status", f.status.map(|s| s.as_str()));
    push_eq(qb, "e.issue_id", f.issue_id);
    push_eq(qb, "e.environment", f.environment.as_deref());
    push_eq(qb, "e.release", f.release.as_deref());
    match f.resolved {
        Some(true) => {
            qb.push(" AND i.status = 'resolved'");
        }
        Some(false) => {
            qb.push(" AND i.status <> 'resolved'");
        }
        None => {}
    }
    search.push_condition(qb, "e.message");
    if let Some(since) = f.since {
        qb.push(" AND e.timestamp >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND e.timestamp < ").push_bind(until);
    }
}

/// Counting errors stops here under a text search (see `list`).
pub const COUNT_CAP: i64 = 10_000;

/// A page of `project`'s errors matching `f`, newest first, how many match in all and whether
/// that count stopped at `COUNT_CAP`. Without a text search the rollups count the matches
/// exactly; a text search counts at most `COUNT_CAP + 1` rows, in the same pass that finds the
/// page, so a list over millions of errors answers in milliseconds.
pub async fn list(
    db: &sqlx::PgPool,
    project: ProjectId,
    f: &Filter,
    page: Page,
) -> sqlx::Result<(Vec<ErrorEvent>, i64, bool)> {
    let search = TextSearch::plan(db, f.q.as_deref()).await?;
    if search.pattern().is_none() {
        let (totals, errors) =
            tokio::try_join!(super::counts::totals(db, project.into(), f), page_of(db, project, f, &search, page))?;
        return Ok((errors, totals.total, false));
    }
    if page.offset.saturating_add(page.limit) > COUNT_CAP + 1 {
        // A page past the counted matches: counted and found separately.
        let (n, errors) =
            tokio::try_join!(capped_count(db, project, f, &search), page_of(db, project, f, &search, page))?;
        return Ok((errors, n.min(COUNT_CAP), n > COUNT_CAP));
    }
    // The newest COUNT_CAP + 1 matches are found once (by their index, or the trigram index for
    // `q`), counted, and the page is cut from them.
    let mut qb = QueryBuilder::new("WITH m AS MATERIALIZED (SELECT e.id, e.timestamp FROM errors e");
    push_matches(&mut qb, project, f, &search);
    qb.push(" LIMIT ").push_bind(COUNT_CAP + 1);
    qb.push(format!(
        ") SELECT {COLUMNS}, (SELECT count(*) FROM m) AS matched
         FROM (SELECT id, timestamp FROM m ORDER BY timestamp DESC, id DESC LIMIT "
    ));
    qb.push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
    qb.push(
        ") AS p JOIN errors e ON e.id = p.id JOIN issues i ON i.id = e.issue_id
         ORDER BY p.timestamp DESC, p.id DESC",
    );
    let rows: Vec<CountedRow> = qb.build_query_as().fetch_all(db).await?;
    let n = match rows.first() {
        Some(r) => r.matched,
        None if page.offset == 0 => 0,
        None => capped_count(db, project, f, &search).await?,
    };
    let errors = rows.into_iter().map(|r| ErrorEvent::try_from(r.row)).collect::<sqlx::Result<_>>()?;
    Ok((errors, n.min(COUNT_CAP), n > COUNT_CAP))
}

#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    row: ErrorRow,
    matched: i64,
}

/// Appends the rest of a select over `errors e` matching `f`, newest first. Issues are joined
/// only for a status filter; in the index's order, so the planner walks the newest matching
/// errors rather than scanning for any.
fn push_matches(qb: &mut QueryBuilder<Postgres>, project: ProjectId, f: &Filter, search: &TextSearch) {
    if f.status.is_some() || f.resolved.is_some() {
        qb.push(" JOIN issues i ON i.id = e.issue_id");
    }
    push_filter(qb, project.into(), f, search);
    qb.push(" ORDER BY e.timestamp DESC, e.id DESC");
}

/// How many errors match `f`, counting at most `COUNT_CAP + 1`.
async fn capped_count(db: &sqlx::PgPool, project: ProjectId, f: &Filter, search: &TextSearch) -> sqlx::Result<i64> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM errors e");
    push_matches(&mut count, project, f, search);
    count.push(" LIMIT ").push_bind(COUNT_CAP + 1).push(") AS capped");
    count.build_query_scalar().fetch_one(db).await
}

/// One page of the errors matching `f`, newest first.
async fn page_of(
    db: &sqlx::PgPool,
    project: ProjectId,
    f: &Filter,
    search: &TextSearch,
    page: Page,
) -> sqlx::Result<Vec<ErrorEvent>> {
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM errors e JOIN issues i ON i.id = e.issue_id"));
    push_filter(&mut qb, project.into(), f, search);
    qb.push(" ORDER BY e.timestamp DESC, e.id DESC LIMIT ")
        .push_bind(page.limit)
        .push(" OFFSET ")
        .push_bind(page.offset);
    let rows: Vec<ErrorRow> = qb.build_query_as().fetch_all(db).await?;
    rows.into_iter().map(ErrorEvent::try_from).collect()
}

/// Deletes one error and takes it off its issue's count and the rollups. Answers its issue, if
/// it existed.
pub async fn delete(db: &sqlx::PgPool, project: ProjectId, id: ErrorId) -> sqlx::Result<Option<IssueId>> {
    let mut tx = db.begin().await?;
    let gone: Option<Gone> = sqlx::query_as(
        "DELETE FROM errors WHERE project_id = $1 AND id = $2
         RETURNING issue_id, timestamp, level, source, environment, release",
    )
    .bind(project)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(gone) = gone else { return Ok(None) };
    let status: String = sqlx::query_scalar(
        "UPDATE issues SET event_count = GREATEST(event_count - 1, 0) WHERE id = $1 RETURNING status",
    )
    .bind(gone.issue_id)
    .fetch_one(&mut *tx)
    .await?;
    let mut deltas = super::counts::Deltas::default();
    deltas.add(
        super::counts::Counted {
            project: project.get(),
            issue: gone.issue_id.get(),
            status: &status,
            timestamp: gone.timestamp,
            level: &gone.level,
            source: &gone.source,
            environment: gone.environment.as_deref(),
            release: gone.release.as_deref(),
        },
        -1,
    );
    deltas.apply(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(gone.issue_id))
}

/// What a deleted error counted under.
#[derive(sqlx::FromRow)]
struct Gone {
    issue_id: IssueId,
    timestamp: DateTime<Utc>,
    level: String,
    source: String,
    environment: Option<String>,
    release: Option<String>,
}

/// The issue an error belongs to.
pub async fn issue_of(db: impl PgExecutor<'_>, project: ProjectId, id: ErrorId) -> sqlx::Result<Option<IssueId>> {
    sqlx::query_scalar("SELECT issue_id FROM errors WHERE project_id = $1 AND id = $2")
        .bind(project)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The event of an issue to show (the given one, else the latest), its 1-based position from the
/// newest, and its older and newer neighbours.
pub async fn in_issue(
    db: &sqlx::PgPool,
    project: ProjectId,
    issue: IssueId,
    wanted: Option<ErrorId>,
) -> sqlx::Result<(Option<ErrorEvent>, i64, Option<ErrorId>, Option<ErrorId>)> {
    let event = match wanted {
        Some(id) => get(db, project, id).await?.filter(|e| e.issue_id == issue),
        None => None,
    };
    let event = match event {
        Some(e) => Some(e),
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM errors e JOIN issues i ON i.id = e.issue_id
                 WHERE e.project_id = $1 AND e.issue_id = $2 ORDER BY e.timestamp DESC, e.id DESC LIMIT 1"
            );
            let row: Option<ErrorRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).bind(issue).fetch_optional(db).await?;
            row.map(ErrorEvent::try_from).transpose()?
        }
    };
    let Some(e) = event else { return Ok((None, 0, None, None)) };
    let (position, older, newer): (i64, Option<ErrorId>, Option<ErrorId>) = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM errors WHERE issue_id = $1 AND (timestamp, id) >= ($2, $3)),
           (SELECT id FROM errors WHERE issue_id = $1 AND (timestamp, id) < ($2, $3) ORDER BY timestamp DESC, id DESC LIMIT 1),
           (SELECT id FROM errors WHERE issue_id = $1 AND (timestamp, id) > ($2, $3) ORDER BY timestamp, id LIMIT 1)",
    )
    .bind(issue)
    .bind(e.timestamp)
    .bind(e.id)
    .fetch_one(db)
    .await?;
    Ok((Some(e), position, older, newer))
}
