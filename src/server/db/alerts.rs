//! Queries on the alert tables: channels, rules, the outbox of deliveries and their attempts,
//! cooldowns, volume counts, digests and email preferences.

use crate::model::{
    Attempt, Channel, ChannelKind, ChannelStatus, Delivery, DeliveryStatus, EmailMode, IssueId, Level, ProjectId, Rule,
    Trigger, UserId, When, WhenName,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use std::collections::BTreeMap;
use uuid::Uuid;

// ---- channels ----

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: i64,
    project_id: ProjectId,
    kind: String,
    name: String,
    url: Option<String>,
    recipients: Vec<String>,
    has_token: bool,
    status: String,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: r.id,
            project_id: r.project_id,
            kind: r.kind.parse().unwrap_or(ChannelKind::Webhook),
            name: r.name,
            url: r.url,
            to: r.recipients,
            has_token: r.has_token,
            status: r.status.parse().unwrap_or(ChannelStatus::Ok),
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            last_success_at: r.last_success_at,
            created_at: r.created_at,
        }
    }
}

const CHANNEL_COLUMNS: &str = "id, project_id, kind, name, url, recipients, token IS NOT NULL AS has_token, status,
     last_error, last_error_at, last_success_at, created_at";

/// A project's channels, oldest first.
pub async fn channels(db: impl PgExecutor<'_>, project: ProjectId) -> sqlx::Result<Vec<Channel>> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE project_id = $1 ORDER BY id");
    let rows: Vec<ChannelRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).fetch_all(db).await?;
    Ok(rows.into_iter().map(Channel::from).collect())
}

/// One channel of `project`.
pub async fn channel(db: impl PgExecutor<'_>, project: ProjectId, id: i64) -> sqlx::Result<Option<Channel>> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE project_id = $1 AND id = $2");
    let row: Option<ChannelRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).bind(id).fetch_optional(db).await?;
    Ok(row.map(Channel::from))
}

/// What a new channel is made of.
pub struct ChannelFields<'a> {
    pub kind: ChannelKind,
    pub name: &'a str,
    pub url: Option<&'a str>,
    pub to: &'a [String],
    pub token: Option<&'a str>,
    pub secret: Option<&'a str>,
}

/// Stores a new channel of `project`.
pub async fn insert_channel(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    f: &ChannelFields<'_>,
) -> sqlx::Result<Channel> {
    let sql = format!(
        "INSERT INTO alert_channels (project_id, kind, name, url, recipients, token, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CHANNEL_COLUMNS}"
    );
    let row: ChannelRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project)
        .bind(f.kind.as_str())
        .bind(f.name)
        .bind(f.url)
        .bind(f.to)
        .bind(f.token)
        .bind(f.secret)
        .fetch_one(db)
        .await?;
    Ok(row.into())
}

/// A change to a channel: each `Some` replaces its field (`token: Some(None)` removes it).
#[derive(Default)]
pub struct ChannelChange<'a> {
    pub name: Option<&'a str>,
    pub url: Option<&'a str>,
    pub to: Option<&'a [String]>,
    pub token: Option<Option<&'a str>>,
    pub secret: Option<&'a str>,
}

/// Changes a channel of `project`; a changed target starts healthy again.
pub async fn update_channel(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    id: i64,
    c: &ChannelChange<'_>,
) -> sqlx::Result<Option<Channel>> {
    let sql = format!(
        "UPDATE alert_channels SET
             name = COALESCE($3, name),
             url = COALESCE($4, url),
             recipients = COALESCE($5, recipients),
             token = CASE WHEN $6 THEN $7 ELSE token END,
             secret = COALESCE($8, secret),
             status = CASE WHEN $4 IS NOT NULL OR $5 IS NOT NULL OR $6 THEN 'ok' ELSE status END
         WHERE project_id = $1 AND id = $2
         RETURNING {CHANNEL_COLUMNS}"
    );
    let row: Option<ChannelRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project)
        .bind(id)
        .bind(c.name)
        .bind(c.url)
        .bind(c.to)
        .bind(c.token.is_some())
        .bind(c.token.flatten())
        .bind(c.secret)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Channel::from))
}

/// Deletes a channel of `project` with its deliveries; answers whether it existed.
pub async fn delete_channel(db: impl PgExecutor<'_>, project: ProjectId, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM alert_channels WHERE project_id = $1 AND id = $2")
        .bind(project)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

// ---- rules ----

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    project_id: ProjectId,
    name: String,
    on_new_issue: bool,
    on_regression: bool,
    on_unignored: bool,
    volume_events: Option<i32>,
    volume_minutes: Option<i32>,
    min_level: Option<String>,
    environments: Vec<String>,
    release: Option<String>,
    tags: sqlx::types::Json<BTreeMap<String, String>>,
    channels: Vec<i64>,
    cooldown_minutes: i32,
    created_at: DateTime<Utc>,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Self {
        let mut when = Vec::new();
        if r.on_new_issue {
            when.push(When::Named(WhenName::NewIssue));
        }
        if r.on_regression {
            when.push(When::Named(WhenName::Regression));
        }
        if r.on_unignored {
            when.push(When::Named(WhenName::Unignored));
        }
        if let (Some(events), Some(minutes)) = (r.volume_events, r.volume_minutes) {
            when.push(When::Events { events, minutes });
        }
        Rule {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            when,
            min_level: r.min_level.and_then(|l| l.parse().ok()),
            environments: r.environments,
            release: r.release,
            tags: r.tags.0,
            channels: r.channels,
            cooldown_minutes: r.cooldown_minutes,
            created_at: r.created_at,
        }
    }
}

const RULE_COLUMNS: &str = "r.id, r.project_id, r.name, r.on_new_issue, r.on_regression, r.on_unignored,
     r.volume_events, r.volume_minutes, r.min_level, r.environments, r.release, r.tags, r.cooldown_minutes, r.created_at,
     ARRAY(SELECT channel_id FROM alert_rule_channels rc WHERE rc.rule_id = r.id ORDER BY channel_id) AS channels";

/// The rules of these projects, oldest first.
pub async fn rules(db: impl PgExecutor<'_>, projects: &[ProjectId]) -> sqlx::Result<Vec<Rule>> {
    let ids: Vec<i64> = projects.iter().map(|p| p.get()).collect();
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules r WHERE r.project_id = ANY($1) ORDER BY r.id");
    let rows: Vec<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&ids).fetch_all(db).await?;
    Ok(rows.into_iter().map(Rule::from).collect())
}

/// One rule of `project`.
pub async fn rule(db: impl PgExecutor<'_>, project: ProjectId, id: i64) -> sqlx::Result<Option<Rule>> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules r WHERE r.project_id = $1 AND r.id = $2");
    let row: Option<RuleRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(project).bind(id).fetch_optional(db).await?;
    Ok(row.map(Rule::from))
}

/// Stores `rule` (its `id` and `created_at` are ignored) as a new rule, or over rule `id`;
/// answers its id, `None` when rule `id` is not in the project. Channels of other projects are
/// left out (the caller checks them first).
pub async fn save_rule(db: &mut PgConnection, rule: &Rule, id: Option<i64>) -> sqlx::Result<Option<i64>> {
    let has = |w: WhenName| rule.when.contains(&When::Named(w));
    let volume = rule.when.iter().find_map(|w| match w {
        When::Events { events, minutes } => Some((*events, *minutes)),
        When::Named(_) => None,
    });
    let tags = sqlx::types::Json(&rule.tags);
    let saved: Option<i64> = match id {
        None => sqlx::query_scalar(
            "INSERT INTO alert_rules (project_id, name, on_new_issue, on_regression, on_unignored, volume_events,
                                      volume_minutes, min_level, environments, release, tags, cooldown_minutes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        ),
        Some(_) => sqlx::query_scalar(
            "UPDATE alert_rules SET name = $2, on_new_issue = $3, on_regression = $4, on_unignored = $5,
                 volume_events = $6, volume_minutes = $7, min_level = $8, environments = $9, release = $10,
                 tags = $11, cooldown_minutes = $12
             WHERE project_id = $1 AND id = $13 RETURNING id",
        ),
    }
    .bind(rule.project_id)
    .bind(&rule.name)
    .bind(has(WhenName::NewIssue))
    .bind(has(WhenName::Regression))
    .bind(has(WhenName::Unignored))
    .bind(volume.map(|v| v.0))
    .bind(volume.map(|v| v.1))
    .bind(rule.min_level.map(Level::as_str))
    .bind(&rule.environments)
    .bind(rule.release.as_deref())
    .bind(tags)
    .bind(rule.cooldown_minutes)
    .bind(id)
    .fetch_optional(&mut *db)
    .await?;
    let Some(saved) = saved else { return Ok(None) };
    sqlx::query("DELETE FROM alert_rule_channels WHERE rule_id = $1").bind(saved).execute(&mut *db).await?;
    sqlx::query(
        "INSERT INTO alert_rule_channels (rule_id, channel_id)
         SELECT $1, id FROM alert_channels WHERE project_id = $2 AND id = ANY($3)",
    )
    .bind(saved)
    .bind(rule.project_id)
    .bind(&rule.channels)
    .execute(&mut *db)
    .await?;
    Ok(Some(saved))
}

/// Deletes a rule of `project`; answers whether it existed.
pub async fn delete_rule(db: impl PgExecutor<'_>, project: ProjectId, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM alert_rules WHERE project_id = $1 AND id = $2")
        .bind(project)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

// ---- the worker's side: counts, cooldowns, the outbox ----

/// A rule's verdict on one issue of a batch: the message to send, unless its cooldown holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    pub rule_id: i64,
    pub issue_id: IssueId,
    pub trigger: Trigger,
    /// Release, environment, level of the event that set it off (and the count, for volume).
    pub detail: serde_json::Value,
    pub cooldown_minutes: i32,
    /// The issue's event count after the batch.
    pub count: i64,
}

/// Adds this batch's events that passed volume rules' filters (`(rule, issue, n, minutes)`) to
/// the per-minute counts; answers each pair's count in its window *before* the batch.
pub async fn add_counts(db: &mut PgConnection, counts: &[(i64, IssueId, i32, i32)]) -> sqlx::Result<Vec<i64>> {
    let rules: Vec<i64> = counts.iter().map(|c| c.0).collect();
    let issues: Vec<i64> = counts.iter().map(|c| c.1.get()).collect();
    let ns: Vec<i32> = counts.iter().map(|c| c.2).collect();
    let minutes: Vec<i32> = counts.iter().map(|c| c.3).collect();
    // The data-modifying CTE's rows are not visible to the outer SELECT: it sums what was there.
    let before: Vec<(i64, i64, i64)> = sqlx::query_as(
        "WITH k AS (SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::int[], $4::int[]) AS k(r, i, n, m)),
         up AS (
             INSERT INTO alert_counts (rule_id, issue_id, minute, n)
             SELECT r, i, date_trunc('minute', now()), n FROM k
             ON CONFLICT (rule_id, issue_id, minute) DO UPDATE SET n = alert_counts.n + EXCLUDED.n
         )
         SELECT k.r, k.i, COALESCE((SELECT sum(c.n) FROM alert_counts c
                                    WHERE c.rule_id = k.r AND c.issue_id = k.i
                                      AND c.minute > now() - make_interval(mins => k.m)), 0)::bigint
         FROM k",
    )
    .bind(&rules)
    .bind(&issues)
    .bind(&ns)
    .bind(&minutes)
    .fetch_all(&mut *db)
    .await?;
    let by_pair: std::collections::HashMap<(i64, i64), i64> = before.into_iter().map(|(r, i, n)| ((r, i), n)).collect();
    Ok(counts.iter().map(|c| by_pair.get(&(c.0, c.1.get())).copied().unwrap_or(0)).collect())
}

/// Writes the messages `fired` calls for into the outbox, in the caller's transaction: each
/// rule and issue out of its cooldown gets one delivery per channel (an email channel to the
/// members one per member who wants every alert, and a digest item for those who want
/// digests) and starts a cooldown; one within its cooldown is held for the follow-up. Answers
/// how many deliveries were written.
pub async fn enqueue(db: &mut PgConnection, fired: &[Fired], email: bool) -> sqlx::Result<u64> {
    if fired.is_empty() {
        return Ok(0);
    }
    // One row per rule and issue (an upsert cannot touch a row twice): the first trigger goes,
    // any other of the same batch is held.
    let mut seen = std::collections::HashSet::new();
    let (first, extra): (Vec<&Fired>, Vec<&Fired>) = fired.iter().partition(|f| seen.insert((f.rule_id, f.issue_id)));
    let rules: Vec<i64> = first.iter().map(|f| f.rule_id).collect();
    let issues: Vec<i64> = first.iter().map(|f| f.issue_id.get()).collect();
    let cooldowns: Vec<i32> = first.iter().map(|f| f.cooldown_minutes).collect();
    let counts: Vec<i64> = first.iter().map(|f| f.count).collect();
    let sent: Vec<(i64, i64, bool)> = sqlx::query_as(
        "INSERT INTO alert_cooldowns AS c (rule_id, issue_id, until, last_sent_at, count_at)
         SELECT r, i, now() + make_interval(mins => m), now(), n
         FROM UNNEST($1::bigint[], $2::bigint[], $3::int[], $4::bigint[]) AS f(r, i, m, n)
         ON CONFLICT (rule_id, issue_id) DO UPDATE SET
             until = CASE WHEN c.until > now() THEN c.until ELSE EXCLUDED.until END,
             count_at = CASE WHEN c.until > now() THEN c.count_at ELSE EXCLUDED.count_at END,
             last_sent_at = CASE WHEN c.until > now() THEN c.last_sent_at ELSE now() END
         RETURNING rule_id, issue_id, last_sent_at = now()",
    )
    .bind(&rules)
    .bind(&issues)
    .bind(&cooldowns)
    .bind(&counts)
    .fetch_all(&mut *db)
    .await?;
    let go: std::collections::HashSet<(i64, i64)> = sent.iter().filter(|s| s.2).map(|s| (s.0, s.1)).collect();
    let (mut send, mut hold): (Vec<&Fired>, Vec<&Fired>) =
        first.into_iter().partition(|f| go.contains(&(f.rule_id, f.issue_id.get())));
    hold.extend(extra);
    send.sort_by_key(|f| (f.rule_id, f.issue_id));

    if !hold.is_empty() {
        let rules: Vec<i64> = hold.iter().map(|f| f.rule_id).collect();
        let issues: Vec<i64> = hold.iter().map(|f| f.issue_id.get()).collect();
        let items: Vec<serde_json::Value> = hold.iter().map(|f| held_item(f)).collect();
        // The first few held triggers are kept to name them; all are counted.
        sqlx::query(
            "UPDATE alert_cooldowns c SET
                 held = CASE WHEN jsonb_array_length(c.held) < 10 THEN c.held || h.items ELSE c.held END,
                 held_count = c.held_count + h.n
             FROM (SELECT r, i, jsonb_agg(item) AS items, count(*)::int AS n
                   FROM UNNEST($1::bigint[], $2::bigint[], $3::jsonb[]) AS f(r, i, item) GROUP BY r, i) h
             WHERE c.rule_id = h.r AND c.issue_id = h.i",
        )
        .bind(&rules)
        .bind(&issues)
        .bind(&items)
        .execute(&mut *db)
        .await?;
    }
    if send.is_empty() {
        return Ok(0);
    }
    let rules: Vec<i64> = send.iter().map(|f| f.rule_id).collect();
    let issues: Vec<i64> = send.iter().map(|f| f.issue_id.get()).collect();
    let triggers: Vec<&str> = send.iter().map(|f| f.trigger.as_str()).collect();
    let details: Vec<&serde_json::Value> = send.iter().map(|f| &f.detail).collect();
    outbox(db, &rules, &issues, &triggers, &details, email).await
}

/// What a follow-up says about one held trigger.
fn held_item(f: &Fired) -> serde_json::Value {
    let mut item = serde_json::json!({"trigger": f.trigger.as_str()});
    for key in ["release", "environment"] {
        if let Some(v) = f.detail.get(key) {
            item[key] = v.clone();
        }
    }
    item
}

/// Inserts the deliveries (and digest items) of these rule, issue, trigger and detail rows.
async fn outbox(
    db: &mut PgConnection,
    rules: &[i64],
    issues: &[i64],
    triggers: &[&str],
    details: &[&serde_json::Value],
    email: bool,
) -> sqlx::Result<u64> {
    const FIRED: &str =
        "UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::jsonb[]) AS f(rule_id, issue_id, trig, detail)
         JOIN alert_rule_channels rc ON rc.rule_id = f.rule_id
         JOIN alert_channels c ON c.id = rc.channel_id";
    let sql = format!(
        "INSERT INTO alert_deliveries (project_id, channel_id, rule_id, issue_id, recipient, \"trigger\", detail)
         SELECT c.project_id, c.id, f.rule_id, f.issue_id, NULL, f.trig, f.detail FROM {FIRED}
         WHERE c.kind <> 'email'
         UNION ALL
         SELECT c.project_id, c.id, f.rule_id, f.issue_id, a.addr, f.trig, f.detail FROM {FIRED}
         CROSS JOIN LATERAL unnest(c.recipients) AS a(addr)
         WHERE c.kind = 'email' AND $5
         UNION ALL
         SELECT c.project_id, c.id, f.rule_id, f.issue_id, u.email, f.trig, f.detail FROM {FIRED}
         JOIN project_members m ON m.project_id = c.project_id
         JOIN users u ON u.id = m.user_id AND u.active
         LEFT JOIN alert_email_prefs p ON p.user_id = u.id AND p.project_id = c.project_id
         WHERE c.kind = 'email' AND $5 AND cardinality(c.recipients) = 0 AND COALESCE(p.mode, 'every') = 'every'"
    );
    let written = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rules)
        .bind(issues)
        .bind(triggers)
        .bind(details)
        .bind(email)
        .execute(&mut *db)
        .await?
        .rows_affected();
    let sql = format!(
        "INSERT INTO alert_digest_items (user_id, project_id, channel_id, issue_id, \"trigger\", detail)
         SELECT u.id, c.project_id, c.id, f.issue_id, f.trig, f.detail FROM {FIRED}
         JOIN project_members m ON m.project_id = c.project_id
         JOIN users u ON u.id = m.user_id AND u.active
         JOIN alert_email_prefs p ON p.user_id = u.id AND p.project_id = c.project_id AND p.mode IN ('hourly', 'daily')
         WHERE c.kind = 'email' AND $5 AND cardinality(c.recipients) = 0"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rules)
        .bind(issues)
        .bind(triggers)
        .bind(details)
        .bind(email)
        .execute(&mut *db)
        .await?;
    Ok(written)
}

/// Sends the follow-ups of cooldowns that ended with something held: one message per rule and
/// issue saying what was held and how many events came since, which starts a new cooldown.
/// Answers how many deliveries were written.
pub async fn follow_ups(db: &mut PgConnection, email: bool) -> sqlx::Result<u64> {
    let due: Vec<(i64, i64, serde_json::Value)> = sqlx::query_as(
        "WITH due AS (
             SELECT c.rule_id, c.issue_id FROM alert_cooldowns c
             WHERE c.held_count > 0 AND c.until <= now()
             ORDER BY c.until LIMIT 200 FOR UPDATE SKIP LOCKED
         )
         UPDATE alert_cooldowns c SET held = '[]', held_count = 0, count_at = i.event_count, last_sent_at = now(),
             until = now() + make_interval(mins => r.cooldown_minutes)
         FROM due, alert_rules r, issues i, alert_cooldowns old
         WHERE c.rule_id = due.rule_id AND c.issue_id = due.issue_id AND r.id = c.rule_id AND i.id = c.issue_id
           AND old.rule_id = c.rule_id AND old.issue_id = c.issue_id
         RETURNING c.rule_id, c.issue_id,
             jsonb_build_object('held', old.held, 'held_count', old.held_count,
                                'events_since', i.event_count - old.count_at)",
    )
    .fetch_all(&mut *db)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let rules: Vec<i64> = due.iter().map(|d| d.0).collect();
    let issues: Vec<i64> = due.iter().map(|d| d.1).collect();
    let triggers: Vec<&str> = due.iter().map(|_| Trigger::Followup.as_str()).collect();
    let details: Vec<&serde_json::Value> = due.iter().map(|d| &d.2).collect();
    outbox(db, &rules, &issues, &triggers, &details, email).await
}

/// Forgets volume counts older than any window (a day).
pub async fn prune_counts(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM alert_counts WHERE minute < now() - interval '1 day'")
        .execute(db)
        .await?
        .rows_affected())
}

// ---- the sender's side ----

/// A delivery taken by a sender, with what it needs to render and send it.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Taken {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub project_name: String,
    pub project_slug: String,
    pub channel_id: i64,
    pub kind: String,
    pub channel_name: String,
    pub url: Option<String>,
    pub token: Option<String>,
    pub secret: Option<String>,
    pub rule_name: Option<String>,
    pub recipient: Option<String>,
    /// An email channel to the project's members (their email carries an unsubscribe link).
    pub member_email: bool,
    #[sqlx(rename = "trigger")]
    pub trig: String,
    pub detail: serde_json::Value,
    pub attempts: i32,
    pub payload: Option<String>,
    pub retry_until: DateTime<Utc>,
    pub issue_id: Option<IssueId>,
    pub title: Option<String>,
    pub culprit: Option<String>,
    pub level: Option<String>,
    pub issue_status: Option<String>,
    pub event_count: Option<i64>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

const TAKEN: &str = "SELECT d.id, d.project_id, p.name AS project_name, p.slug AS project_slug, d.channel_id, c.kind,
        c.name AS channel_name, c.url, c.token, c.secret, r.name AS rule_name, d.recipient,
        cardinality(c.recipients) = 0 AS member_email, d.\"trigger\", d.detail,
        d.attempts, d.payload, d.retry_until, d.issue_id, i.title, i.culprit, i.level, i.status AS issue_status,
        i.event_count, i.first_seen, i.last_seen
     FROM alert_deliveries d
     JOIN projects p ON p.id = d.project_id
     JOIN alert_channels c ON c.id = d.channel_id
     LEFT JOIN alert_rules r ON r.id = d.rule_id
     LEFT JOIN issues i ON i.id = d.issue_id";

/// Takes up to `limit` due deliveries: each is leased for `lease` (a sender that dies with it in
/// hand leaves it to be taken again after that) and its attempt counted.
pub async fn take(db: impl PgExecutor<'_>, limit: i64, lease: std::time::Duration) -> sqlx::Result<Vec<Taken>> {
    let sql = format!(
        "WITH t AS (
             UPDATE alert_deliveries SET next_attempt_at = now() + $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id
         )
         {TAKEN} WHERE d.id IN (SELECT id FROM t)"
    );
    // The CTE's update is not visible to the outer query: count the attempt here too.
    let mut rows: Vec<Taken> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .bind(chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60)))
        .fetch_all(db)
        .await?;
    for r in &mut rows {
        r.attempts += 1;
    }
    Ok(rows)
}

/// One delivery with what sending it needs (for a test message or a redelivery done at once).
pub async fn taken(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Taken>> {
    let sql = format!("{TAKEN} WHERE d.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(db).await
}

/// Writes one delivery outside a rule (a test message, a broken-channel notice), already leased
/// to its writer when `leased` (it sends it at once).
pub async fn insert_delivery(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    channel: i64,
    trigger: Trigger,
    recipient: Option<&str>,
    detail: &serde_json::Value,
    leased: bool,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO alert_deliveries (project_id, channel_id, recipient, \"trigger\", detail, next_attempt_at, attempts)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() + interval '1 minute' ELSE now() END,
                 CASE WHEN $6 THEN 1 ELSE 0 END)
         RETURNING id",
    )
    .bind(project)
    .bind(channel)
    .bind(recipient)
    .bind(trigger.as_str())
    .bind(detail)
    .bind(leased)
    .fetch_one(db)
    .await
}

/// What one try came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// No more tries: a permanent refusal (`broken`), or retried for as long as allowed.
    Failed {
        broken: bool,
    },
}

/// One try, as recorded.
pub struct Try<'a> {
    pub latency_ms: i32,
    pub status: Option<i32>,
    pub response: Option<&'a str>,
    pub error: Option<&'a str>,
    pub payload: &'a str,
}

/// Records a try of delivery `id` on `channel` and what it came to; keeps the channel's health.
/// Answers whether the channel just turned broken (so its admins are told once).
pub async fn record(
    db: &mut PgConnection,
    id: Uuid,
    channel: i64,
    t: &Try<'_>,
    verdict: &Verdict,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO alert_attempts (delivery_id, latency_ms, status, response, error, payload)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(t.latency_ms)
    .bind(t.status)
    .bind(t.response)
    .bind(t.error)
    .bind(t.payload)
    .execute(&mut *db)
    .await?;
    let (status, next, delivered) = match verdict {
        Verdict::Delivered => ("delivered", None, true),
        Verdict::Retry(at) => ("pending", Some(*at), false),
        Verdict::Failed { .. } => ("failed", None, false),
    };
    sqlx::query(
        "UPDATE alert_deliveries SET status = $2, next_attempt_at = COALESCE($3, next_attempt_at),
             last_status = $4, last_error = $5, payload = $6,
             delivered_at = CASE WHEN $7 THEN now() ELSE delivered_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(next)
    .bind(t.status)
    .bind(t.error.or(t.response.filter(|_| !delivered)))
    .bind(t.payload)
    .bind(delivered)
    .execute(&mut *db)
    .await?;
    let health = match verdict {
        Verdict::Delivered => "ok",
        Verdict::Retry(_) => "failing",
        Verdict::Failed { broken: true } => "broken",
        Verdict::Failed { broken: false } => "failing",
    };
    let error = match verdict {
        Verdict::Delivered => None,
        _ => Some(describe(t)),
    };
    // A broken channel stays broken through further failures; only a success heals it.
    let was: Option<String> = sqlx::query_scalar("SELECT status FROM alert_channels WHERE id = $1 FOR UPDATE")
        .bind(channel)
        .fetch_optional(&mut *db)
        .await?;
    sqlx::query(
        "UPDATE alert_channels SET
             status = CASE WHEN $2 = 'ok' OR status <> 'broken' THEN $2 ELSE status END,
             last_error = COALESCE($3, last_error),
             last_error_at = CASE WHEN $3 IS NULL THEN last_error_at ELSE now() END,
             last_success_at = CASE WHEN $2 = 'ok' THEN now() ELSE last_success_at END
         WHERE id = $1",
    )
    .bind(channel)
    .bind(health)
    .bind(error)
    .execute(&mut *db)
    .await?;
    Ok(health == "broken" && was.as_deref() != Some("broken"))
}

/// A try's failure in one line, for the channel.
fn describe(t: &Try<'_>) -> String {
    match (t.status, t.error, t.response) {
        (_, Some(e), _) => e.to_owned(),
        (Some(s), None, Some(body)) if !body.is_empty() => {
            format!("HTTP {s}: {}", body.chars().take(300).collect::<String>())
        }
        (Some(s), None, _) => format!("HTTP {s}"),
        (None, None, _) => "no answer".to_owned(),
    }
}

/// Moves every pending delivery of `channel` to `until` at the earliest (the receiver asked to
/// wait that long).
pub async fn hold_channel(db: impl PgExecutor<'_>, channel: i64, until: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE alert_deliveries SET next_attempt_at = GREATEST(next_attempt_at, $2)
         WHERE channel_id = $1 AND status = 'pending'",
    )
    .bind(channel)
    .bind(until)
    .execute(db)
    .await
    .map(|_| ())
}

/// The other channels of `project` a broken-channel notice can go to: its member email channels
/// first, then any other healthy one.
pub async fn notice_channels(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    broken: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, kind FROM alert_channels WHERE project_id = $1 AND id <> $2 AND status <> 'broken'
         ORDER BY (kind = 'email') DESC, id",
    )
    .bind(project)
    .bind(broken)
    .fetch_all(db)
    .await
}

/// The addresses of a project's active admins (for a broken-channel notice by email).
pub async fn admin_emails(db: impl PgExecutor<'_>, project: ProjectId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT u.email FROM project_members m JOIN users u ON u.id = m.user_id
         WHERE m.project_id = $1 AND m.role = 'admin' AND u.active ORDER BY u.id",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    channel_id: i64,
    rule_id: Option<i64>,
    issue_id: Option<IssueId>,
    recipient: Option<String>,
    #[sqlx(rename = "trigger")]
    trig: String,
    status: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    next_attempt_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    delivery_id: Uuid,
    at: DateTime<Utc>,
    latency_ms: i32,
    status: Option<i32>,
    response: Option<String>,
    error: Option<String>,
    payload: Option<String>,
}

/// A channel's deliveries, newest first, each with its tries; `before` pages on by creation time.
pub async fn deliveries(
    db: &mut PgConnection,
    project: ProjectId,
    channel: i64,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT id, channel_id, rule_id, issue_id, recipient, \"trigger\", status, attempts, last_status, last_error,
                created_at, delivered_at, next_attempt_at
         FROM alert_deliveries WHERE project_id = $1 AND channel_id = $2 AND ($3::timestamptz IS NULL OR created_at < $3)
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(project)
    .bind(channel)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let tries: Vec<AttemptRow> = sqlx::query_as(
        "SELECT delivery_id, at, latency_ms, status, response, error, payload FROM alert_attempts
         WHERE delivery_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(&mut *db)
    .await?;
    let mut by_delivery: std::collections::HashMap<Uuid, Vec<Attempt>> = std::collections::HashMap::new();
    for t in tries {
        by_delivery.entry(t.delivery_id).or_default().push(Attempt {
            at: t.at,
            latency_ms: t.latency_ms,
            status: t.status,
            response: t.response,
            error: t.error,
            payload: t.payload,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let status = r.status.parse().unwrap_or(DeliveryStatus::Pending);
            Delivery {
                tries: by_delivery.remove(&r.id).unwrap_or_default(),
                id: r.id,
                channel_id: r.channel_id,
                rule_id: r.rule_id,
                issue_id: r.issue_id,
                recipient: r.recipient,
                trigger: r.trig.parse().unwrap_or(Trigger::Test),
                attempts: r.attempts,
                last_status: r.last_status,
                last_error: r.last_error,
                created_at: r.created_at,
                delivered_at: r.delivered_at,
                next_attempt_at: (status == DeliveryStatus::Pending).then_some(r.next_attempt_at),
                status,
            }
        })
        .collect())
}

/// Sends a delivery of `channel` again, now and with a new day of retries (same id, same
/// payload); answers whether it exists.
pub async fn redeliver(db: impl PgExecutor<'_>, project: ProjectId, channel: i64, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now(),
             retry_until = now() + interval '24 hours', delivered_at = NULL
         WHERE project_id = $1 AND channel_id = $2 AND id = $3",
    )
    .bind(project)
    .bind(channel)
    .bind(id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

// ---- email preferences ----

/// How `user` wants `project`'s email alerts (every alert unless they chose otherwise).
pub async fn email_mode(db: impl PgExecutor<'_>, user: UserId, project: ProjectId) -> sqlx::Result<EmailMode> {
    let mode: Option<String> =
        sqlx::query_scalar("SELECT mode FROM alert_email_prefs WHERE user_id = $1 AND project_id = $2")
            .bind(user)
            .bind(project)
            .fetch_optional(db)
            .await?;
    Ok(mode.and_then(|m| m.parse().ok()).unwrap_or(EmailMode::Every))
}

/// Sets how `user` wants `project`'s email alerts.
pub async fn set_email_mode(
    db: impl PgExecutor<'_>,
    user: UserId,
    project: ProjectId,
    mode: EmailMode,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO alert_email_prefs (user_id, project_id, mode) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, project_id) DO UPDATE SET mode = EXCLUDED.mode",
    )
    .bind(user)
    .bind(project)
    .bind(mode.as_str())
    .execute(db)
    .await
    .map(|_| ())
}

/// The unsubscribe token of the member with this address in `project` (made on first use;
/// `fresh` is used then); `None` when no user has the address.
pub async fn unsubscribe_token(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    email: &str,
    fresh: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "INSERT INTO alert_unsubscribe_tokens (token, user_id, project_id)
         SELECT $3, u.id, $1 FROM users u WHERE lower(u.email) = lower($2)
         ON CONFLICT (user_id, project_id) DO UPDATE SET token = alert_unsubscribe_tokens.token
         RETURNING token",
    )
    .bind(project)
    .bind(email)
    .bind(fresh)
    .fetch_optional(db)
    .await
}

/// Whose and which project's alerts an unsubscribe token stands for: the address and the
/// project's name.
pub async fn unsubscribe_target(
    db: impl PgExecutor<'_>,
    token: &str,
) -> sqlx::Result<Option<(UserId, ProjectId, String, String)>> {
    sqlx::query_as(
        "SELECT t.user_id, t.project_id, u.email, p.name FROM alert_unsubscribe_tokens t
         JOIN users u ON u.id = t.user_id JOIN projects p ON p.id = t.project_id WHERE t.token = $1",
    )
    .bind(token)
    .fetch_optional(db)
    .await
}

// ---- digests ----

/// Turns the digest items of every user whose hour or day has passed into one digest delivery
/// per user and project (on the channel of their first item); answers how many were written.
pub async fn digests_due(db: &mut PgConnection) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "WITH due AS (
             SELECT i.user_id, i.project_id FROM alert_digest_items i
             LEFT JOIN alert_email_prefs p ON p.user_id = i.user_id AND p.project_id = i.project_id
             GROUP BY i.user_id, i.project_id, p.mode
             HAVING min(i.created_at) <= now() - CASE p.mode WHEN 'hourly' THEN interval '1 hour'
                                                            WHEN 'daily' THEN interval '1 day'
                                                            ELSE interval '0' END
             LIMIT 100
         ), gone AS (
             DELETE FROM alert_digest_items d USING due
             WHERE d.user_id = due.user_id AND d.project_id = due.project_id
             RETURNING d.*
         )
         INSERT INTO alert_deliveries (project_id, channel_id, recipient, \"trigger\", detail)
         SELECT g.project_id, min(g.channel_id), u.email, 'digest',
                jsonb_build_object('count', count(*), 'items',
                    (jsonb_agg(jsonb_build_object('issue_id', g.issue_id, 'title', iss.title, 'trigger', g.\"trigger\",
                                                  'detail', g.detail, 'at', g.created_at) ORDER BY g.id)))
         FROM gone g JOIN users u ON u.id = g.user_id AND u.active LEFT JOIN issues iss ON iss.id = g.issue_id
         GROUP BY g.project_id, g.user_id, u.email",
    )
    .execute(db)
    .await?
    .rows_affected())
}
