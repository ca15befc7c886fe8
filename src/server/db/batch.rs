//! The worker's write: a whole batch of errors and their issues in one transaction.

use crate::model::{ErrorId, IssueId, ProjectId, Trigger};
use crate::server::alerts::rules::BatchIssue;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One error ready to store, with its grouping already computed.
#[derive(Clone, Debug)]
pub struct NewError {
    pub id: ErrorId,
    pub project_id: ProjectId,
    pub event_id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// An SDK event that came without a believable time (stored at its arrival): its retries
    /// arrive at other times, so they are recognised by their event id instead.
    pub timestamp_assumed: bool,
    pub level: &'static str,
    pub message: String,
    pub stack_trace: Option<String>,
    pub context: serde_json::Value,
    pub source: &'static str,
    pub url: Option<String>,
    pub fingerprint: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub platform: Option<String>,
    /// The large parts no query reads (`detail::split`), already compressed.
    pub detail: Option<Vec<u8>>,
    /// The issue's title and culprit, used only when this error opens a new issue.
    pub title: String,
    pub culprit: String,
}

/// What a batch changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredBatch {
    /// Errors newly stored (redelivered ones are not counted), with their issue.
    pub inserted: Vec<(ProjectId, IssueId, ErrorId)>,
    /// Issues this batch created.
    pub new_issues: Vec<(ProjectId, IssueId)>,
    /// Alert deliveries the batch wrote into the outbox.
    pub alerts: u64,
}

/// Stores `errors` in one transaction: creates missing issues, inserts errors that are not stored
/// yet (by id or by project + event_id), then adds the new ones to their issues' counts and
/// times, reopening resolved issues, and writes the alerts the projects' rules call for (email
/// ones only when `email` can be sent). Safe to run again with the same errors.
pub async fn store(db: &PgPool, errors: &[NewError], email: bool) -> sqlx::Result<StoredBatch> {
    if errors.is_empty() {
        return Ok(StoredBatch::default());
    }
    // One row per (project, fingerprint), sorted so concurrent workers lock issues in one order.
    let mut groups: BTreeMap<(ProjectId, &str), &NewError> = BTreeMap::new();
    for e in errors {
        groups.entry((e.project_id, e.fingerprint.as_str())).or_insert(e);
    }
    let n = groups.len();
    let (mut g_project, mut g_fp, mut g_title, mut g_culprit, mut g_level, mut g_ts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for ((project, fp), e) in &groups {
        g_project.push(project.get());
        g_fp.push(*fp);
        g_title.push(e.title.as_str());
        g_culprit.push(e.culprit.as_str());
        g_level.push(e.level);
        g_ts.push(e.timestamp);
    }

    // Every day the batch's errors fall in has its partition: created, when missing, before the
    // transaction (it is DDL; a concurrent server may create it first, which is fine).
    let mut days: Vec<chrono::NaiveDate> = errors.iter().map(|e| e.timestamp.date_naive()).collect();
    days.sort_unstable();
    days.dedup();
    super::storage::ensure_partitions(db, &days).await?;

    let mut tx = db.begin().await?;
    // New issues are created without touching existing ones; then every issue of the batch is
    // looked up with a key-share lock (it cannot be deleted under us, while other workers may
    // still store into it). Issue rows are locked for update only at the end, for the counts, so
    // concurrent batches of the same issues overlap instead of queueing behind each other.
    let created: Vec<(IssueId, ProjectId)> = sqlx::query_as(
        "INSERT INTO issues (project_id, fingerprint, title, culprit, level, first_seen, last_seen, event_count)
         SELECT p, f, t, c, l, ts, ts, 0
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
              AS g(p, f, t, c, l, ts)
         ON CONFLICT (project_id, fingerprint) DO NOTHING
         RETURNING id, project_id",
    )
    .bind(&g_project)
    .bind(&g_fp)
    .bind(&g_title)
    .bind(&g_culprit)
    .bind(&g_level)
    .bind(&g_ts)
    .fetch_all(&mut *tx)
    .await?;
    let issue_rows: Vec<(IssueId, ProjectId, String)> = sqlx::query_as(
        "SELECT i.id, i.project_id, i.fingerprint
         FROM issues i JOIN UNNEST($1::bigint[], $2::text[]) AS g(p, f) ON i.project_id = g.p AND i.fingerprint = g.f
         ORDER BY i.id
         FOR KEY SHARE OF i",
    )
    .bind(&g_project)
    .bind(&g_fp)
    .fetch_all(&mut *tx)
    .await?;
    let mut issue_of: HashMap<ProjectId, HashMap<String, IssueId>> = HashMap::new();
    for (id, project, fp) in issue_rows {
        issue_of.entry(project).or_default().insert(fp, id);
    }
    let new_issues = created.into_iter().map(|(id, project)| (project, id)).collect::<Vec<_>>();

    // Each SDK event without a time of its own once: not again if stored before, nor twice here.
    let mut seen = seen_before(&mut tx, errors).await?;
    let errors: Vec<&NewError> =
        errors.iter().filter(|e| !e.timestamp_assumed || seen.insert((e.project_id.get(), e.event_id))).collect();
    let m = errors.len();
    let mut cols = ErrorColumns::with_capacity(m);
    for e in errors.iter().copied() {
        let Some(issue) = issue_of.get(&e.project_id).and_then(|m| m.get(e.fingerprint.as_str())) else {
            return Err(sqlx::Error::Protocol(format!("no issue returned for fingerprint {}", e.fingerprint)));
        };
        cols.push(e, *issue);
    }
    let inserted: Vec<(ProjectId, IssueId, ErrorId, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO errors (id, project_id, issue_id, event_id, timestamp, received_at, level, message,
                             stack_trace, context, source, url, fingerprint, environment, release, platform, detail)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::uuid[], $5::timestamptz[],
                              $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::text[],
                              $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bytea[])
         ON CONFLICT DO NOTHING
         RETURNING project_id, issue_id, id, timestamp",
    )
    .bind(&cols.id)
    .bind(&cols.project)
    .bind(&cols.issue)
    .bind(&cols.event_id)
    .bind(&cols.timestamp)
    .bind(&cols.received_at)
    .bind(&cols.level)
    .bind(&cols.message)
    .bind(&cols.stack_trace)
    .bind(&cols.context)
    .bind(&cols.source)
    .bind(&cols.url)
    .bind(&cols.fingerprint)
    .bind(&cols.environment)
    .bind(&cols.release)
    .bind(&cols.platform)
    .bind(&cols.detail)
    .fetch_all(&mut *tx)
    .await?;

    // The environments, releases and sources each issue has seen (for filtering issues), from the
    // errors this batch stored.
    let stored: std::collections::HashSet<ErrorId> = inserted.iter().map(|(_, _, id, _)| *id).collect();
    // The errors this batch stored, each with its issue.
    let stored_errors: Vec<(&NewError, i64)> =
        errors.iter().copied().zip(cols.issue.iter().copied()).filter(|(e, _)| stored.contains(&e.id)).collect();
    let mut values: std::collections::BTreeSet<(i64, &str, &str)> = std::collections::BTreeSet::new();
    for &(e, issue) in &stored_errors {
        values.insert((issue, "source", e.source));
        if let Some(env) = e.environment.as_deref() {
            values.insert((issue, "environment", env));
        }
        if let Some(release) = e.release.as_deref() {
            values.insert((issue, "release", release));
        }
    }
    let (mut v_issue, mut v_key, mut v_value) = (Vec::new(), Vec::new(), Vec::new());
    for (issue, key, value) in values {
        v_issue.push(issue);
        v_key.push(key);
        v_value.push(value);
    }
    sqlx::query(
        "INSERT INTO issue_values (issue_id, key, value)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(&v_issue)
    .bind(&v_key)
    .bind(&v_value)
    .execute(&mut *tx)
    .await?;

    // Per issue: how many new errors, and their earliest and latest timestamps.
    let mut per_issue: BTreeMap<IssueId, (i64, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for (_, issue, _, ts) in &inserted {
        let slot = per_issue.entry(*issue).or_insert((0, *ts, *ts));
        slot.0 += 1;
        slot.1 = slot.1.min(*ts);
        slot.2 = slot.2.max(*ts);
    }
    let mut alerts = 0;
    if !per_issue.is_empty() {
        let ids: Vec<i64> = per_issue.keys().map(|i| i.get()).collect();
        let counts: Vec<i64> = per_issue.values().map(|v| v.0).collect();
        let firsts: Vec<DateTime<Utc>> = per_issue.values().map(|v| v.1).collect();
        let lasts: Vec<DateTime<Utc>> = per_issue.values().map(|v| v.2).collect();
        // Locked in id order, so concurrent batches never wait on each other in a cycle. What
        // each issue was tells the alert rules how the batch changes it.
        let before: Vec<IssueBefore> = sqlx::query_as(
            "SELECT id, status, event_count, ignore_until_count, ignore_until, now() AS now
             FROM issues WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        // A resolved issue with new errors is open again (a regression); an ignored one too once
        // it reaches the count it was ignored until, or gets errors after the time. (Every SET
        // expression reads the row as it was, so `back` means the same in all three.)
        const BACK: &str = "status = 'ignored' AND (event_count + d.n >= ignore_until_count OR now() >= ignore_until)";
        let sql = format!(
            "UPDATE issues SET event_count = event_count + d.n,
                               first_seen = LEAST(first_seen, d.first_ts),
                               last_seen = GREATEST(last_seen, d.last_ts),
                               status = CASE WHEN status = 'resolved' OR ({BACK}) THEN 'unresolved' ELSE status END,
                               ignore_until_count = CASE WHEN {BACK} THEN NULL ELSE ignore_until_count END,
                               ignore_until = CASE WHEN {BACK} THEN NULL ELSE ignore_until END
             FROM UNNEST($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[]) AS d(id, n, first_ts, last_ts)
             WHERE issues.id = d.id
             RETURNING issues.id, issues.status"
        );
        let status: HashMap<i64, String> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&ids)
            .bind(&counts)
            .bind(&firsts)
            .bind(&lasts)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        // The rollups, after the update: an issue whose status it changed has had its earlier
        // counts moved by the trigger, and the new errors count under the status it has now.
        let mut deltas = super::counts::Deltas::default();
        for &(e, issue) in &stored_errors {
            let Some(status) = status.get(&issue) else {
                return Err(sqlx::Error::Protocol(format!("issue {issue} was not updated")));
            };
            deltas.add(
                super::counts::Counted {
                    project: e.project_id.get(),
                    issue,
                    status,
                    timestamp: e.timestamp,
                    level: e.level,
                    source: e.source,
                    environment: e.environment.as_deref(),
                    release: e.release.as_deref(),
                },
                1,
            );
        }
        deltas.apply(&mut tx).await?;
        let created: std::collections::HashSet<IssueId> = new_issues.iter().map(|(_, i)| *i).collect();
        let mut changed: BTreeMap<IssueId, BatchIssue> = BTreeMap::new();
        for b in &before {
            let n = per_issue.get(&b.id).map_or(0, |v| v.0);
            changed.insert(
                b.id,
                BatchIssue {
                    project: ProjectId::new(0),
                    change: b.change(n, created.contains(&b.id)),
                    events: Vec::new(),
                    count: b.event_count + n,
                },
            );
        }
        for &(e, issue) in &stored_errors {
            if let Some(slot) = changed.get_mut(&IssueId::new(issue)) {
                slot.project = e.project_id;
                slot.events.push(e);
            }
        }
        alerts = crate::server::alerts::rules::evaluate(&mut tx, &changed, email).await?;
    }
    tx.commit().await?;
    Ok(StoredBatch { inserted: inserted.into_iter().map(|(p, i, e, _)| (p, i, e)).collect(), new_issues, alerts })
}

/// The SDK events of the batch without a time of their own that are stored already (a retry
/// within a week of the first): errors are unique by id and time, and such a retry has another
/// time. Each such event id is locked for the transaction, so two batches holding the same retry
/// cannot both store it.
async fn seen_before(
    tx: &mut sqlx::PgConnection,
    errors: &[NewError],
) -> sqlx::Result<std::collections::HashSet<(i64, Uuid)>> {
    let mut keys: Vec<(i64, Uuid)> =
        errors.iter().filter(|e| e.timestamp_assumed).map(|e| (e.project_id.get(), e.event_id)).collect();
    if keys.is_empty() {
        return Ok(Default::default());
    }
    keys.sort_unstable();
    keys.dedup();
    let (projects, ids): (Vec<i64>, Vec<Uuid>) = keys.into_iter().unzip();
    let (from, to) = errors
        .iter()
        .filter(|e| e.timestamp_assumed)
        .fold((DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC), |(a, b), e| {
            (a.min(e.received_at), b.max(e.received_at))
        });
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended(p::text || '/' || e::text, 0))
         FROM UNNEST($1::bigint[], $2::uuid[]) AS k(p, e)",
    )
    .bind(&projects)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let seen: Vec<(i64, Uuid)> = sqlx::query_as(
        "SELECT project_id, event_id FROM errors
         WHERE (project_id, event_id) IN (SELECT * FROM UNNEST($1::bigint[], $2::uuid[]))
           AND timestamp >= $3 - interval '7 days' AND timestamp <= $4",
    )
    .bind(&projects)
    .bind(&ids)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    Ok(seen.into_iter().collect())
}

/// An issue as it was before the batch's update.
#[derive(sqlx::FromRow)]
struct IssueBefore {
    id: IssueId,
    status: String,
    event_count: i64,
    ignore_until_count: Option<i64>,
    ignore_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

impl IssueBefore {
    /// How `n` new errors change the issue (the same test as the batch's `UPDATE`).
    fn change(&self, n: i64, created: bool) -> Option<Trigger> {
        if created {
            return Some(Trigger::NewIssue);
        }
        match self.status.as_str() {
            "resolved" => Some(Trigger::Regression),
            "ignored"
                if self.ignore_until_count.is_some_and(|c| self.event_count + n >= c)
                    || self.ignore_until.is_some_and(|t| self.now >= t) =>
            {
                Some(Trigger::Unignored)
            }
            _ => None,
        }
    }
}

/// The batch as column arrays, for `UNNEST`.
struct ErrorColumns<'a> {
    id: Vec<Uuid>,
    project: Vec<i64>,
    issue: Vec<i64>,
    event_id: Vec<Uuid>,
    timestamp: Vec<DateTime<Utc>>,
    received_at: Vec<DateTime<Utc>>,
    level: Vec<&'static str>,
    message: Vec<&'a str>,
    stack_trace: Vec<Option<&'a str>>,
    context: Vec<&'a serde_json::Value>,
    source: Vec<&'static str>,
    url: Vec<Option<&'a str>>,
    fingerprint: Vec<&'a str>,
    environment: Vec<Option<&'a str>>,
    release: Vec<Option<&'a str>>,
    platform: Vec<Option<&'a str>>,
    detail: Vec<Option<&'a [u8]>>,
}

/// Borrows the batch's strings and JSON instead of copying them.
impl<'a> ErrorColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            id: Vec::with_capacity(n),
            project: Vec::with_capacity(n),
            issue: Vec::with_capacity(n),
            event_id: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            level: Vec::with_capacity(n),
            message: Vec::with_capacity(n),
            stack_trace: Vec::with_capacity(n),
            context: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            url: Vec::with_capacity(n),
            fingerprint: Vec::with_capacity(n),
            environment: Vec::with_capacity(n),
            release: Vec::with_capacity(n),
            platform: Vec::with_capacity(n),
            detail: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, e: &'a NewError, issue: IssueId) {
        self.id.push(*e.id.as_uuid());
        self.project.push(e.project_id.get());
        self.issue.push(issue.get());
        self.event_id.push(e.event_id);
        self.timestamp.push(e.timestamp);
        self.received_at.push(e.received_at);
        self.level.push(e.level);
        self.message.push(&e.message);
        self.stack_trace.push(e.stack_trace.as_deref());
        self.context.push(&e.context);
        self.source.push(e.source);
        self.url.push(e.url.as_deref());
        self.fingerprint.push(&e.fingerprint);
        self.environment.push(e.environment.as_deref());
        self.release.push(e.release.as_deref());
        self.platform.push(e.platform.as_deref());
        self.detail.push(e.detail.as_deref());
    }
}
