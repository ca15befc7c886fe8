//! The read phase: seeds a project with a hundred errors per issue (a million errors in ten
//! thousand issues by default; `FAULTLINE_BENCH_READS_SCALES=1000000,10000000` seeds one project
//! per scale and compares them) straight into PostgreSQL, then times `GET /api/issues` under every
//! filter and `GET /api/errors` with typical ones, each request with its own page size so none is
//! answered from the cache (and then once more, cached), the stats query under the dashboard's
//! filters, and the issue page's queries; and reports the bytes each stored error takes.

use crate::http::{Conn, request};
use crate::seed;
use crate::{Report, percentile};
use faultline::model::ProjectId;
use serde_json::json;
use std::time::Instant;

/// Requests per filter shape (each with a different `limit`, so each misses the cache).
const SAMPLES: usize = 40;

/// The error counts to seed, one project each (issues: one per hundred errors).
fn scales() -> Vec<i64> {
    std::env::var("FAULTLINE_BENCH_READS_SCALES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).filter(|n| *n >= 100).collect::<Vec<i64>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![1_000_000])
}

/// `1M`, `10M`, `250k`.
fn short(n: i64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The bytes the errors' partitions (table, TOAST and indexes) take now.
pub async fn errors_bytes(db: &sqlx::PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'errors'::regclass",
    )
    .fetch_one(db)
    .await
}

pub async fn run(addr: &str, database_url: &str, report: &mut Report) {
    let db = match sqlx::PgPool::connect(database_url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("bench: reads skipped, cannot connect to {database_url}: {e}");
            return;
        }
    };
    let mut doc = serde_json::Map::new();
    let mut first: Option<(String, serde_json::Value)> = None;
    for errors in scales() {
        let label = short(errors);
        let Some(figures) = run_scale(addr, &db, errors, &label, report).await else { return };
        if let Some((base_label, base)) = &first {
            let ratio = |k: &str| {
                figures[k]["p95_ms"].as_f64().unwrap_or(f64::NAN) / base[k]["p95_ms"].as_f64().unwrap_or(f64::NAN)
            };
            report.row(
                format!("reads: p95 growth {base_label} → {label}"),
                format!(
                    "issues ×{:.2}, errors ×{:.2}, stats ×{:.2}, issue page ×{:.2}; bytes per error {:.0} → {:.0}",
                    ratio("/api/issues"),
                    ratio("/api/errors"),
                    ratio("stats"),
                    ratio("issue_page"),
                    base["bytes_per_error"].as_f64().unwrap_or(f64::NAN),
                    figures["bytes_per_error"].as_f64().unwrap_or(f64::NAN),
                ),
            );
        }
        if first.is_none() {
            first = Some((label.clone(), figures.clone()));
        }
        doc.insert(label, figures);
    }
    // The first scale's figures stay where earlier runs wrote them.
    if let Some((_, base)) = first
        && let serde_json::Value::Object(m) = base
    {
        for (k, v) in m {
            doc.entry(k).or_insert(v);
        }
    }
    report.json.insert("reads".into(), serde_json::Value::Object(doc));
}

/// Seeds one project of `errors` errors and measures it; `None` when seeding failed.
async fn run_scale(
    addr: &str,
    db: &sqlx::PgPool,
    errors: i64,
    label: &str,
    report: &mut Report,
) -> Option<serde_json::Value> {
    let issues = (errors / 100).max(1);
    let key = format!("bench-reads-key-{label}");
    println!("reads: seeding {errors} errors in {issues} issues…");
    let before = errors_bytes(db).await.unwrap_or(0);
    let t = Instant::now();
    let project = match seed::seed_project(db, &format!("bench-reads-{label}"), &key, issues, errors).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bench: reads skipped, seeding failed: {e}");
            return None;
        }
    };
    let seeded_in = t.elapsed().as_secs_f64();
    let bytes_per_error = (errors_bytes(db).await.unwrap_or(0) - before) as f64 / errors as f64;
    let mut doc = serde_json::Map::new();
    measure(addr, db, project, &key, label, report, &mut doc).await;
    report.row(format!("reads: seeding {label} errors took"), format!("{seeded_in:.0} s"));
    report.row(
        format!("reads: {label} seeded errors stored in"),
        format!("{:.0} bytes each (table, TOAST and indexes; seeded rows carry no event document)", bytes_per_error),
    );
    doc.insert("seed_seconds".into(), json!(seeded_in));
    doc.insert("bytes_per_error".into(), json!(bytes_per_error));
    Some(serde_json::Value::Object(doc))
}

/// Times the reads over `project`.
async fn measure(
    addr: &str,
    db: &sqlx::PgPool,
    project: ProjectId,
    key: &str,
    label: &str,
    report: &mut Report,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) {
    let busiest = seed::busiest_issue(db, project).await.ok().flatten().unwrap_or(1);
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Every filter of the issue list, alone and combined as the dashboard does.
    let issue_shapes = [
        String::new(),
        "status=unresolved&level=error&sort=count".into(),
        "status=resolved".into(),
        "status=ignored&sort=first_seen".into(),
        "level=fatal".into(),
        "source=backend".into(),
        "environment=staging".into(),
        "sort=first_seen&release=shop%404.3.0".into(),
        "environment=production&release=shop%404.7.0&status=unresolved".into(),
        format!("since={day_ago}&sort=count"),
        "q=step%204242".into(),
    ];
    let error_shapes = [
        String::new(),
        "level=error&environment=production".into(),
        format!("issue_id={busiest}"),
        format!("since={day_ago}"),
        "q=order%20123456".into(),
    ];
    let mut conn = Conn::new(addr);
    for (endpoint, shapes) in [("/api/issues", &issue_shapes[..]), ("/api/errors", &error_shapes[..])] {
        println!("reads: {endpoint}…");
        let mut all = Vec::new();
        let mut cached = Vec::new();
        let mut per_shape = serde_json::Map::new();
        let mut worst = (String::new(), 0f64);
        for shape in shapes.iter() {
            let mut times = Vec::new();
            for pass in 0..2 {
                for i in 0..SAMPLES {
                    let path = format!("{endpoint}?{shape}&limit={}", 11 + i);
                    let req = request("GET", &path, addr, &[("x-api-key", key)], b"");
                    let t = Instant::now();
                    let ok = matches!(conn.send(&req).await, Ok((200, _)));
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    if !ok {
                        eprintln!("bench: {path} did not answer 200");
                        continue;
                    }
                    if pass == 0 {
                        times.push(ms);
                    } else {
                        cached.push(ms);
                    }
                }
            }
            let p95 = percentile(&times, 0.95);
            if p95 > worst.1 {
                worst = (if shape.is_empty() { "no filter".into() } else { shape.clone() }, p95);
            }
            per_shape.insert(
                if shape.is_empty() { "(none)".into() } else { shape.clone() },
                json!({"p50_ms": percentile(&times, 0.5), "p95_ms": p95}),
            );
            all.extend(times);
        }
        report.row(
            format!("GET {endpoint}, {label} errors: p50 / p95 uncached"),
            format!(
                "{:.1} ms / {:.1} ms (slowest filter: {} at p95 {:.1} ms; cached p50 {:.1} ms)",
                percentile(&all, 0.5),
                percentile(&all, 0.95),
                worst.0,
                worst.1,
                percentile(&cached, 0.5)
            ),
        );
        doc.insert(
            endpoint.into(),
            json!({"p50_ms": percentile(&all, 0.5), "p95_ms": percentile(&all, 0.95),
                   "cached_p50_ms": percentile(&cached, 0.5), "by_filter": per_shape}),
        );
    }
    // The totals behind `/api/stats` and the dashboard's cards, as the query (the HTTP answer is
    // cached per project): no filter, and the dashboard's filters.
    println!("reads: stats…");
    let shapes: [(&str, faultline::model::Filter); 5] = [
        ("(none)", faultline::model::Filter::default()),
        (
            "last 24 h",
            faultline::model::Filter {
                since: Some(chrono::Utc::now() - chrono::TimeDelta::hours(24)),
                ..Default::default()
            },
        ),
        (
            "level=error, unresolved",
            faultline::model::Filter {
                level: Some(faultline::model::Level::Error),
                status: Some(faultline::model::IssueStatus::Unresolved),
                ..Default::default()
            },
        ),
        (
            "environment=staging, release",
            faultline::model::Filter {
                environment: Some("staging".into()),
                release: Some("shop@4.3.0".into()),
                ..Default::default()
            },
        ),
        (
            "last 7 days, level=error",
            faultline::model::Filter {
                since: Some(chrono::Utc::now() - chrono::TimeDelta::days(7)),
                level: Some(faultline::model::Level::Error),
                ..Default::default()
            },
        ),
    ];
    let mut all = Vec::new();
    let mut per_shape = serde_json::Map::new();
    for (name, f) in &shapes {
        let mut times = Vec::new();
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let now = chrono::Utc::now();
            if faultline::server::db::stats::filtered(db, project.into(), f, now).await.is_err() {
                eprintln!("bench: stats with {name} failed");
                continue;
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        per_shape
            .insert((*name).into(), json!({"p50_ms": percentile(&times, 0.5), "p95_ms": percentile(&times, 0.95)}));
        all.extend(times);
    }
    report.row(
        format!("stats (the query), {label} errors: p50 / p95 uncached"),
        format!("{:.1} ms / {:.1} ms over {} filters", percentile(&all, 0.5), percentile(&all, 0.95), shapes.len()),
    );
    doc.insert(
        "stats".into(),
        json!({"p50_ms": percentile(&all, 0.5), "p95_ms": percentile(&all, 0.95), "by_filter": per_shape}),
    );
    issue_page(db, project, label, report, doc).await;
}

/// The issue page's queries (what `get_issue` runs: the issue, its users and 24-hour trend, its
/// latest event with its neighbours, its 30-day chart, its tag facets) for the busiest issues.
async fn issue_page(
    db: &sqlx::PgPool,
    project: ProjectId,
    label: &str,
    report: &mut Report,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) {
    use faultline::server::db;
    let Ok(ids) = seed::top_issues(db, project, SAMPLES as i64).await else {
        eprintln!("bench: issue page skipped, no issues");
        return;
    };
    let mut times = Vec::new();
    for id in ids {
        let t = Instant::now();
        let now = chrono::Utc::now();
        let ok = db::issues::get(db, project, id).await.is_ok()
            && db::issues::users_and_trends(db, &[id], now).await.is_ok()
            && db::errors::in_issue(db, project, id, None).await.is_ok()
            && db::counts::daily(db, id, now).await.is_ok()
            && db::issues::facets(db, id).await.is_ok();
        if ok {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    report.row(
        format!("issue page (its queries), {label} errors: p50 / p95 uncached"),
        format!(
            "{:.1} ms / {:.1} ms over the {} busiest issues",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.len()
        ),
    );
    doc.insert("issue_page".into(), json!({"p50_ms": percentile(&times, 0.5), "p95_ms": percentile(&times, 0.95)}));
}
