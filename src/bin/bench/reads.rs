//! The read phase: seeds a project with ten thousand issues and a million errors straight into
//! PostgreSQL, then times `GET /api/issues` and `GET /api/errors` with typical filters, each
//! request with its own page size so none is answered from the cache (and then once more,
//! cached), and the stats query under the dashboard's filters.

use crate::http::{Conn, request};
use crate::seed;
use crate::{Report, percentile};
use serde_json::json;
use std::time::Instant;

const ISSUES: i64 = 10_000;
const ERRORS: i64 = 1_000_000;
const KEY: &str = "bench-reads-key";
/// Requests per filter shape (each with a different `limit`, so each misses the cache).
const SAMPLES: usize = 40;

pub async fn run(addr: &str, database_url: &str, report: &mut Report) {
    let db = match sqlx::PgPool::connect(database_url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("bench: reads skipped, cannot connect to {database_url}: {e}");
            return;
        }
    };
    println!("reads: seeding {ERRORS} errors in {ISSUES} issues…");
    let t = Instant::now();
    let project = match seed::seed_project(&db, "bench-reads", KEY, ISSUES, ERRORS).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bench: reads skipped, seeding failed: {e}");
            return;
        }
    };
    let seeded_in = t.elapsed().as_secs_f64();
    let busiest = seed::busiest_issue(&db, project).await.ok().flatten().unwrap_or(1);
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let issue_shapes = [
        String::new(),
        "status=unresolved&level=error&sort=count".into(),
        "environment=staging".into(),
        "sort=first_seen&release=shop%404.3.0".into(),
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
    let mut doc = serde_json::Map::new();
    for (endpoint, shapes) in [("/api/issues", &issue_shapes), ("/api/errors", &error_shapes)] {
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
                    let req = request("GET", &path, addr, &[("x-api-key", KEY)], b"");
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
            format!("GET {endpoint}, 1M errors: p50 / p95 uncached"),
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
            if faultline::server::db::stats::filtered(&db, project.into(), f, now).await.is_err() {
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
        "stats (the query), 1M errors: p50 / p95 uncached",
        format!("{:.1} ms / {:.1} ms over {} filters", percentile(&all, 0.5), percentile(&all, 0.95), shapes.len()),
    );
    doc.insert(
        "stats".into(),
        json!({"p50_ms": percentile(&all, 0.5), "p95_ms": percentile(&all, 0.95), "by_filter": per_shape}),
    );
    report.row("reads: seeding 1M errors took", format!("{seeded_in:.0} s"));
    doc.insert("seed_seconds".into(), json!(seeded_in));
    report.json.insert("reads".into(), serde_json::Value::Object(doc));
}
