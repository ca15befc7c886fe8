//! The rollups behind totals, charts and counts: checked against a count of the stored rows
//! after every kind of change.

use crate::helpers::TestApp;
use crate::seed;
use chrono::{DateTime, TimeDelta, Utc};
use faultline::model::{Filter, IssueId, IssueStatus, Level, Source};
use faultline::server::db::{self, counts, search::TextSearch};
use serde_json::json;
use sqlx::PgPool;

/// Filters that cut the rollups every way: each column, status, whole and partial hours, and one
/// issue.
fn filters(now: DateTime<Utc>, issue: IssueId) -> Vec<Filter> {
    let mut out = vec![Filter::default()];
    for level in [Level::Fatal, Level::Error, Level::Warning] {
        out.push(Filter { level: Some(level), ..Filter::default() });
    }
    for source in [Source::Frontend, Source::Backend, Source::Api] {
        out.push(Filter { source: Some(source), ..Filter::default() });
    }
    for status in [IssueStatus::Unresolved, IssueStatus::Resolved, IssueStatus::Ignored] {
        out.push(Filter { status: Some(status), ..Filter::default() });
    }
    out.push(Filter { resolved: Some(true), ..Filter::default() });
    out.push(Filter { resolved: Some(false), level: Some(Level::Error), ..Filter::default() });
    out.push(Filter { environment: Some("staging".into()), ..Filter::default() });
    out.push(Filter {
        release: Some("shop@4.3.0".into()),
        environment: Some("production".into()),
        ..Filter::default()
    });
    out.push(Filter { since: Some(now - TimeDelta::minutes(30)), ..Filter::default() });
    out.push(Filter { since: Some(now - TimeDelta::hours(24)), ..Filter::default() });
    out.push(Filter {
        since: Some(now - TimeDelta::days(7)),
        until: Some(now - TimeDelta::minutes(95)),
        ..Filter::default()
    });
    out.push(Filter {
        since: Some(now - TimeDelta::minutes(200)),
        until: Some(now - TimeDelta::minutes(190)),
        ..Filter::default()
    });
    out.push(Filter { issue_id: Some(issue), ..Filter::default() });
    out.push(Filter { issue_id: Some(issue), since: Some(now - TimeDelta::days(3)), ..Filter::default() });
    out
}

/// Asserts that every filter's totals from the rollups equal a count of the rows, and answers the
/// unfiltered total.
async fn assert_exact(app: &TestApp, now: DateTime<Utc>, issue: IssueId, when: &str) -> i64 {
    let scope = app.project.into();
    for f in filters(now, issue) {
        let rolled = counts::totals(&app.state.db, scope, &f).await.unwrap();
        let rows = counts::scanned(&app.state.db, scope, &f, &TextSearch::none()).await.unwrap();
        assert_eq!(rolled, rows, "{when}: {f:?}");
    }
    let total = counts::scanned(&app.state.db, scope, &Filter::default(), &TextSearch::none()).await.unwrap().total;
    assert!(total > 0, "{when}: the project has errors to count");
    total
}

#[sqlx::test]
async fn totals_from_the_rollups_equal_a_count_of_the_rows_through_every_change(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Seeded errors (counted by the migration's recount) plus errors the worker stores, spread
    // over hours and days, levels, sources, environments and releases.
    let seeded = seed::seed_project(&app.state.db, "seeded", "seeded-key", 30, 2_000).await.unwrap();
    let now = Utc::now();
    let levels = ["fatal", "error", "warning", "info"];
    let sources = ["frontend", "backend", "api"];
    let mut ids = Vec::new();
    for k in 0..60i64 {
        let ts = now - TimeDelta::minutes(k * 37);
        ids.push(
            app.post_error(json!({
                "message": format!("failure kind {}", k % 7),
                "level": levels[(k % 4) as usize],
                "source": sources[(k % 3) as usize],
                "environment": if k % 3 == 0 { "staging" } else { "production" },
                "release": format!("shop@4.{}.0", k % 5),
                "timestamp": ts.to_rfc3339(),
            }))
            .await,
        );
    }
    app.process().await;
    let issue_of = |id: &str| {
        let app = &app;
        let id = id.to_owned();
        async move { IssueId::new(app.get(&format!("/api/errors/{id}")).await.body["issue_id"].as_i64().unwrap()) }
    };
    let first = issue_of(&ids[0]).await;
    let stored = assert_exact(&app, now, first, "stored").await;
    assert_eq!(stored, 60);

    // Resolving and ignoring move an issue's counts between statuses.
    app.put(&format!("/api/issues/{first}/resolve")).await;
    let second = issue_of(&ids[1]).await;
    app.put(&format!("/api/issues/{second}/ignore")).await;
    assert_exact(&app, now, first, "after resolve and ignore").await;
    let stats = app.get("/api/stats").await.body;
    assert!(stats["resolved"].as_i64().unwrap() > 0, "{stats}");

    // A regression: new errors in the resolved issue reopen it, old and new counted as open.
    app.post_error(json!({"message": "failure kind 0", "level": "fatal", "source": "frontend",
                          "environment": "staging", "release": "shop@4.0.0"}))
        .await;
    app.process().await;
    assert_eq!(app.get(&format!("/api/issues/{first}")).await.body["status"], json!("unresolved"));
    assert_eq!(assert_exact(&app, now, first, "after a regression").await, 61);

    // Deleting an error, then a whole issue, takes them off.
    assert_eq!(app.delete(&format!("/api/errors/{}", ids[7])).await.status.as_u16(), 204);
    assert_eq!(assert_exact(&app, now, first, "after deleting an error").await, 60);
    let in_second = counts::scanned(
        &app.state.db,
        app.project.into(),
        &Filter { issue_id: Some(second), ..Filter::default() },
        &TextSearch::none(),
    )
    .await
    .unwrap()
    .total;
    assert!(db::issues::delete(&app.state.db, app.project, second).await.unwrap());
    assert_eq!(assert_exact(&app, now, first, "after deleting an issue").await, 60 - in_second);

    // The seeded project's rollups, recounted from its rows, are exact too; the other project's
    // errors never count here.
    let scope = seeded.into();
    let rolled = counts::totals(&app.state.db, scope, &Filter::default()).await.unwrap();
    assert_eq!(rolled.total, 2_000);
    for f in filters(now, first) {
        let f = Filter { issue_id: None, ..f };
        let rows = counts::scanned(&app.state.db, scope, &f, &TextSearch::none()).await.unwrap();
        assert_eq!(counts::totals(&app.state.db, scope, &f).await.unwrap(), rows, "seeded: {f:?}");
    }
}

#[sqlx::test]
async fn issue_charts_count_errors_per_hour_and_day_from_the_rollups(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let now = Utc::now();
    let mut first = None;
    // Three errors this hour, two five hours ago, one three days ago.
    for ago in [
        TimeDelta::zero(),
        TimeDelta::zero(),
        TimeDelta::zero(),
        TimeDelta::hours(5),
        TimeDelta::hours(5),
        TimeDelta::days(3),
    ] {
        let t = counts::hour_of(now) + TimeDelta::minutes(1) - ago;
        let t = t.min(now);
        let id = app.post_error(json!({"message": "chart me", "timestamp": t.to_rfc3339()})).await;
        first.get_or_insert(id);
    }
    app.process().await;
    let issue = app.get(&format!("/api/errors/{}", first.unwrap())).await.body["issue_id"].as_i64().unwrap();
    let issue = IssueId::new(issue);
    let hours = counts::hourly(&app.state.db, &[issue.get()], now).await.unwrap();
    let trend = &hours[&issue];
    assert_eq!((trend[23], trend[18], trend.iter().sum::<i64>()), (3, 2, 5), "{trend:?}");
    let days = counts::daily(&app.state.db, issue, now).await.unwrap();
    assert_eq!((days.iter().sum::<i64>(), days[26]), (6, 1), "{days:?}");
}
