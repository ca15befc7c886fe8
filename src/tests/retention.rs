//! Retention, the per-issue limit and the storage budget, on a clock moved forward: whole days
//! dropped, single rows deleted, rollups still exact, ingest refusing what cannot be stored.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use faultline::model::{Filter, IssueId, ProjectId};
use faultline::server::config::ByteSize;
use faultline::server::db::{counts, search::TextSearch, storage};
use faultline::server::retention;
use serde_json::{Value, json};
use sqlx::PgPool;

/// Posts an error `days` days before now (at noon of that UTC day, so it stays in that day) and
/// answers its id.
async fn error_days_ago(app: &TestApp, key: &str, message: &str, days: i64) -> String {
    let day = Utc::now().date_naive() - TimeDelta::days(days);
    let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc().min(Utc::now());
    app.post_error_as(key, json!({"message": message, "timestamp": at.to_rfc3339()})).await
}

async fn days(app: &TestApp) -> Vec<NaiveDate> {
    storage::partitions(&app.state.db).await.unwrap().into_iter().map(|p| p.day).collect()
}

/// Asserts the project's rollups equal a count of its rows; answers the count.
async fn exact(app: &TestApp, project: ProjectId) -> i64 {
    let f = Filter::default();
    let rows = counts::scanned(&app.state.db, project.into(), &f, &TextSearch::none()).await.unwrap();
    assert_eq!(counts::totals(&app.state.db, project.into(), &f).await.unwrap(), rows);
    rows.total
}

async fn issue(app: &TestApp, error: &str) -> Value {
    let e = app.get(&format!("/api/errors/{error}")).await.body;
    app.get(&format!("/api/issues/{}", e["issue_id"])).await.body
}

#[sqlx::test]
async fn whole_days_past_the_retention_are_dropped_and_issues_keep_their_counts(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.retention_days = 15).await;
    let old = error_days_ago(&app, crate::helpers::KEY, "disk on fire", 20).await;
    error_days_ago(&app, crate::helpers::KEY, "disk on fire", 10).await;
    let recent = error_days_ago(&app, crate::helpers::KEY, "disk on fire", 1).await;
    app.process().await;
    let before = issue(&app, &recent).await;
    let twenty_ago = Utc::now().date_naive() - TimeDelta::days(20);
    assert!(days(&app).await.contains(&twenty_ago));

    let swept = retention::sweep(&app.state, app.state.clock.wall()).await.unwrap();
    assert_eq!(swept.expired_days, [twenty_ago]);
    assert!(!days(&app).await.contains(&twenty_ago), "the day's partition is gone");
    assert_eq!(app.get(&format!("/api/errors/{old}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(exact(&app, app.project).await, 2);
    let after = issue(&app, &recent).await;
    for field in ["count", "first_seen", "last_seen", "status"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(app.get("/api/stats").await.body["total"], json!(2));

    // Eleven days later the second error is past the retention too; the issue stays listed.
    app.state.clock.advance(std::time::Duration::from_secs(11 * 86_400));
    let swept = retention::sweep(&app.state, app.state.clock.wall()).await.unwrap();
    assert_eq!(swept.expired_days.len(), 1);
    assert_eq!(exact(&app, app.project).await, 1);
    assert_eq!(issue(&app, &recent).await["count"], json!(3));
    let removals = storage::removals(&app.state.db, None, 10).await.unwrap();
    assert_eq!(removals.iter().map(|r| r.errors).sum::<i64>(), 2, "{removals:?}");
    assert!(removals.iter().all(|r| r.bytes > 0 && r.day.is_some()));
    // Today's and the next days' partitions exist ahead of the errors.
    let today = app.state.clock.wall().date_naive();
    assert!(days(&app).await.contains(&(today + TimeDelta::days(2))));
}

#[sqlx::test]
async fn a_project_keeping_less_loses_its_older_errors_and_no_other_project_does(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let other = app.other_project("other", "other-key").await;
    for d in [12, 8, 3, 0] {
        error_days_ago(&app, crate::helpers::KEY, "timeout", d).await;
        error_days_ago(&app, "other-key", "timeout", d).await;
    }
    app.process().await;
    storage::set_project_retention(&app.state.db, app.project, Some(5)).await.unwrap();
    let swept = retention::sweep(&app.state, app.state.clock.wall()).await.unwrap();
    assert_eq!((swept.rows, swept.expired_days.len()), (2, 0));
    assert_eq!(exact(&app, app.project).await, 2);
    assert_eq!(exact(&app, other).await, 4);
    let removals = storage::removals(&app.state.db, None, 10).await.unwrap();
    assert_eq!(removals.len(), 1);
    assert_eq!((removals[0].errors, removals[0].project.as_deref()), (2, Some("default")));
}

#[sqlx::test]
async fn an_issue_keeps_its_newest_errors_up_to_the_limit_and_counts_them_all(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.max_events_per_issue = 5).await;
    let mut ids = Vec::new();
    for d in (0..8).rev() {
        ids.push(error_days_ago(&app, crate::helpers::KEY, "storm", d).await);
    }
    let calm = error_days_ago(&app, crate::helpers::KEY, "calm", 3).await;
    app.process().await;
    let swept = retention::sweep(&app.state, app.state.clock.wall()).await.unwrap();
    assert_eq!(swept.rows, 3);
    for (i, id) in ids.iter().enumerate() {
        let status = app.get(&format!("/api/errors/{id}")).await.status;
        assert_eq!(status, if i < 3 { StatusCode::NOT_FOUND } else { StatusCode::OK }, "error {i}");
    }
    assert_eq!(app.get(&format!("/api/errors/{calm}")).await.status, StatusCode::OK);
    let storm = issue(&app, &ids[7]).await;
    assert_eq!(storm["count"], json!(8), "the count keeps counting");
    let storm_id = IssueId::new(storm["id"].as_i64().unwrap());
    let f = Filter { issue_id: Some(storm_id), ..Filter::default() };
    assert_eq!(counts::totals(&app.state.db, app.project.into(), &f).await.unwrap().total, 5);
    assert_eq!(exact(&app, app.project).await, 6);
    // Nothing more to trim on the next sweep.
    assert_eq!(retention::sweep(&app.state, app.state.clock.wall()).await.unwrap().rows, 0);
}

#[sqlx::test]
async fn over_the_budget_the_oldest_days_go_and_ingest_refuses_what_cannot_fit(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| {
        s.max_storage = Some(ByteSize(1));
        s.resolved_issue_days = Some(1);
    })
    .await;
    let old = error_days_ago(&app, crate::helpers::KEY, "old news", 4).await;
    error_days_ago(&app, crate::helpers::KEY, "yesterday", 1).await;
    let today = error_days_ago(&app, crate::helpers::KEY, "today", 0).await;
    app.process().await;
    let old_issue = issue(&app, &old).await["id"].clone();
    app.put(&format!("/api/issues/{old_issue}/resolve")).await;

    let cookie = app.session().await;
    let page = app.page("/", Some(&cookie)).await;
    assert!(!page.body.as_str().unwrap().contains("storage-banner"), "no banner while events are accepted");

    let now: DateTime<Utc> = app.state.clock.wall();
    let swept = retention::sweep(&app.state, now).await.unwrap();
    assert!(swept.budget_days.contains(&(now.date_naive() - TimeDelta::days(4))), "{swept:?}");
    assert!(days(&app).await.iter().all(|d| *d >= now.date_naive()), "only today and later are left");
    assert_eq!(app.get(&format!("/api/errors/{today}")).await.status, StatusCode::OK);
    assert_eq!(exact(&app, app.project).await, 1);
    // The resolved issue whose errors all went, unseen for more than a day, ages out.
    assert_eq!(swept.issues, 1);
    assert_eq!(app.get(&format!("/api/issues/{old_issue}")).await.status, StatusCode::NOT_FOUND);

    // A byte of budget cannot be met: ingest answers 429 on both paths and /health says why.
    let why = app.state.storage.refusing().expect("refusing");
    assert!(why.contains("FAULTLINE_MAX_STORAGE"), "{why}");
    let rest = app
        .request(
            Method::POST,
            "/api/errors",
            Some(crate::helpers::KEY),
            Some(json!({"message": "x"}).to_string().into()),
        )
        .await;
    assert_eq!((rest.status, rest.error_code()), (StatusCode::TOO_MANY_REQUESTS, "storage_full"));
    assert!(rest.header("retry-after").is_some());
    let key = app.public_key().await;
    let req = axum::http::Request::post(format!("/api/{}/store/?sentry_key={key}", app.project))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"message": "from an sdk"}).to_string()))
        .unwrap();
    let store = app.send(req).await;
    assert_eq!(store.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(store.header("x-sentry-rate-limits").is_some_and(|h| h.ends_with(":project:storage_full")), "{store:?}");
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(health.body["problems"].to_string().contains("cannot take more"), "{}", health.body);
    assert_eq!(app.state.queue.depth().await.unwrap(), 0, "nothing refused was queued");
    // Every dashboard page says so.
    for path in ["/", "/alerts", "/account"] {
        let page = app.page(path, Some(&cookie)).await;
        let html = page.body.as_str().unwrap();
        assert!(html.contains("storage-banner") && html.contains("New events are being refused"), "{path}: {html}");
        assert!(html.contains("FAULTLINE_MAX_STORAGE"), "{path}: the reason is shown");
    }
}
