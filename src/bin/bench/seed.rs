//! The load generator's own queries beyond the API (kept out of the product's `server::db`):
//! seeding a large synthetic project in one statement per table, and checking which events were
//! stored.

use faultline::model::ProjectId;
use uuid::Uuid;

/// Creates project `name` with REST key `api_key`, `issues` issues and `errors` errors spread
/// over the last 30 days (a few issues hold most errors, as in real projects; levels,
/// environments, releases and users vary), stored in the order they happened as a live server
/// stores them, then sets the issues' counts and times and the rollups from their errors, and vacuums and
/// analyzes the tables.
pub async fn seed_project(
    db: &sqlx::PgPool,
    name: &str,
    api_key: &str,
    issues: i64,
    errors: i64,
) -> sqlx::Result<ProjectId> {
    let slug = faultline::model::slugify(name);
    let mut conn = db.acquire().await?;
    let project =
        faultline::server::db::projects::insert(&mut conn, name, &slug).await?.ok_or(sqlx::Error::RowNotFound)?.id;
    drop(conn);
    faultline::server::db::api_keys::ensure(db, project, "bench", api_key).await?;
    sqlx::query(
        "INSERT INTO issues (project_id, fingerprint, title, culprit, level, status, first_seen, last_seen, event_count)
         SELECT $1, md5('seed-' || g), 'Error' || (g % 25) || ': order failed in step ' || g,
                'shop.module' || (g % 40) || ' in handler_' || g,
                (ARRAY['error', 'error', 'error', 'warning', 'fatal'])[1 + g % 5],
                CASE WHEN g % 10 = 0 THEN 'resolved' WHEN g % 17 = 0 THEN 'ignored' ELSE 'unresolved' END,
                now(), now(), 0
         FROM generate_series(1, $2) AS g",
    )
    .bind(project)
    .bind(issues)
    .execute(db)
    .await?;
    let today = chrono::Utc::now().date_naive();
    let days: Vec<chrono::NaiveDate> = (0..=31).map(|d| today - chrono::TimeDelta::days(d)).collect();
    faultline::server::db::storage::ensure_partitions(db, &days).await?;
    sqlx::query(
        "WITH numbered AS (
             SELECT id, fingerprint, title, level, row_number() OVER (ORDER BY id) AS k FROM issues WHERE project_id = $1
         ), picks AS (
             SELECT n, 1 + floor($2 * power(random(), 3))::bigint AS k,
                    now() - random() * interval '30 days' AS ts
             FROM generate_series(1, $3) AS n
         )
         INSERT INTO errors (id, project_id, issue_id, event_id, timestamp, received_at, level, message, stack_trace,
                             context, source, url, fingerprint, environment, release, platform)
         SELECT gen_random_uuid(), $1, i.id, gen_random_uuid(), p.ts, p.ts, i.level,
                i.title || ' (order ' || p.n || ')',
                'Traceback (most recent call last):' || E'\\n' || '  File \"shop/module' || (p.k % 40) ||
                    '.py\", line ' || (10 + p.n % 300) || ', in handler' || E'\\n' || '    result = process(order)',
                jsonb_build_object('user', jsonb_build_object('id', 'user-' || (p.n % 5000)),
                                   'tags', jsonb_build_object('region', 'eu-west', 'customer_tier', 'gold')),
                'backend', 'https://shop.example/api/checkout', i.fingerprint,
                CASE WHEN p.n % 5 = 0 THEN 'staging' ELSE 'production' END,
                'shop@4.' || (p.n % 20) || '.0', 'python'
         FROM picks p JOIN numbered i ON i.k = p.k
         ORDER BY p.ts",
    )
    .bind(project)
    .bind(issues)
    .bind(errors)
    .execute(db)
    .await?;
    sqlx::query(
        "UPDATE issues i SET event_count = a.n, first_seen = a.first_ts, last_seen = a.last_ts
         FROM (SELECT issue_id, count(*) AS n, min(timestamp) AS first_ts, max(timestamp) AS last_ts
               FROM errors WHERE project_id = $1 GROUP BY issue_id) AS a
         WHERE i.id = a.issue_id",
    )
    .bind(project)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO issue_values (issue_id, key, value)
         SELECT DISTINCT issue_id, 'environment', environment FROM errors WHERE project_id = $1
         UNION SELECT DISTINCT issue_id, 'release', release FROM errors WHERE project_id = $1
         UNION SELECT DISTINCT issue_id, 'source', source FROM errors WHERE project_id = $1",
    )
    .bind(project)
    .execute(db)
    .await?;
    sqlx::query("SELECT faultline_recount($1)").bind(project).execute(db).await?;
    // What autovacuum does soon after a million inserts, done now so that it does not start in
    // the middle of the measurements.
    for table in ["issues", "issue_values", "errors", "issue_counts", "project_counts"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}"))).execute(db).await?;
    }
    Ok(project)
}

/// How many of `event_ids` are stored for `project`.
pub async fn stored_among(db: &sqlx::PgPool, project: ProjectId, event_ids: &[Uuid]) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM errors WHERE project_id = $1 AND event_id = ANY($2)")
        .bind(project)
        .bind(event_ids)
        .fetch_one(db)
        .await
}

/// How many errors `project` has in all.
pub async fn count_errors(db: &sqlx::PgPool, project: ProjectId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM errors WHERE project_id = $1").bind(project).fetch_one(db).await
}

/// The issue with the most errors (for per-issue reads).
pub async fn busiest_issue(db: &sqlx::PgPool, project: ProjectId) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM issues WHERE project_id = $1 ORDER BY event_count DESC LIMIT 1")
        .bind(project)
        .fetch_optional(db)
        .await
}

/// The issues with the most errors, busiest first (for the issue page's reads).
pub async fn top_issues(db: &sqlx::PgPool, project: ProjectId, n: i64) -> sqlx::Result<Vec<faultline::model::IssueId>> {
    sqlx::query_scalar("SELECT id FROM issues WHERE project_id = $1 ORDER BY event_count DESC LIMIT $2")
        .bind(project)
        .bind(n)
        .fetch_all(db)
        .await
}
