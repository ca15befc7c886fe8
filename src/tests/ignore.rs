//! Ignoring an issue for a while: until N more events (it comes back when they have arrived),
//! until a time (it comes back with its first event after it), or until someone changes it —
//! through the REST API and the dashboard's server function.

use crate::helpers::{KEY, TestApp};
use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

/// Stores `n` errors of one fingerprint; answers the issue id.
async fn errors(app: &TestApp, n: usize) -> i64 {
    let mut id = String::new();
    for _ in 0..n {
        id = app.post_error(json!({"message": "noisy", "fingerprint": "noisy"})).await;
    }
    app.process().await;
    app.get(&format!("/api/errors/{id}")).await.body["issue_id"].as_i64().unwrap()
}

async fn ignore(app: &TestApp, issue: i64, body: Option<Value>) -> crate::helpers::Answer {
    let body = body.map(|b| Body::from(b.to_string()));
    app.request(Method::PUT, &format!("/api/issues/{issue}/ignore"), Some(KEY), body).await
}

async fn issue(app: &TestApp, issue: i64) -> Value {
    app.get(&format!("/api/issues/{issue}")).await.body
}

#[sqlx::test]
async fn an_issue_ignored_until_more_events_comes_back_when_they_have_arrived(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = errors(&app, 2).await;
    let a = ignore(&app, id, Some(json!({"until_events": 3}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!((a.body["status"].as_str(), a.body["ignore_until_count"].as_i64()), (Some("ignored"), Some(5)));
    errors(&app, 2).await;
    assert_eq!(issue(&app, id).await["status"], "ignored", "two of three more events");
    errors(&app, 1).await;
    let back = issue(&app, id).await;
    assert_eq!((back["status"].as_str(), back["count"].as_i64()), (Some("unresolved"), Some(5)));
    assert_eq!((&back["ignore_until_count"], &back["ignore_until"]), (&Value::Null, &Value::Null));
}

#[sqlx::test]
async fn an_issue_ignored_for_a_while_comes_back_with_its_first_event_after_the_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = errors(&app, 1).await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    let a = ignore(&app, id, Some(json!({ "until": until }))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body["ignore_until"].is_string());
    errors(&app, 3).await;
    assert_eq!(issue(&app, id).await["status"], "ignored", "within the time");
    // The day has passed (moved back rather than waited for).
    sqlx::query("UPDATE issues SET ignore_until = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(issue(&app, id).await["status"], "ignored", "no event yet: nothing brings it back");
    errors(&app, 1).await;
    assert_eq!(issue(&app, id).await["status"], "unresolved");
}

#[sqlx::test]
async fn ignoring_without_a_bound_lasts_and_bad_bounds_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = errors(&app, 1).await;
    for bad in [
        json!({"until_events": 3, "until": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
        json!({"until_events": 0}),
        json!({"until": "2001-01-01T00:00:00Z"}),
        json!({"until": "tomorrow"}),
        json!({"for": 3}),
    ] {
        let a = ignore(&app, id, Some(bad.clone())).await;
        assert_eq!((a.status, a.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{bad}");
    }
    assert_eq!(issue(&app, id).await["status"], "unresolved", "a refused call changes nothing");
    assert_eq!(ignore(&app, id, None).await.status, StatusCode::OK);
    errors(&app, 20).await;
    let still = issue(&app, id).await;
    assert_eq!((still["status"].as_str(), still["count"].as_i64()), (Some("ignored"), Some(21)));
    // Reopening clears the bound; resolving and a new event reopen as before.
    let bounded = ignore(&app, id, Some(json!({"until_events": 2}))).await;
    assert_eq!(bounded.body["ignore_until_count"], 23);
    let reopened = app.put(&format!("/api/issues/{id}/unresolve")).await;
    assert_eq!(reopened.body["ignore_until_count"], Value::Null);
}

#[sqlx::test]
async fn the_dashboard_ignores_until_more_events_or_for_hours(pool: PgPool) {
    use faultline::api::issues::IgnoreIssue;
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn(pool).await;
    let cookie = app.session().await;
    let id = errors(&app, 1).await;
    let a = app.call_server_fn(IgnoreIssue::PATH, Some(&cookie), &format!("id={id}&more_events=10")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(issue(&app, id).await["ignore_until_count"], 11);
    let a = app.call_server_fn(IgnoreIssue::PATH, Some(&cookie), &format!("id={id}&for_hours=24")).await;
    assert_eq!(a.status, StatusCode::OK);
    let until: chrono::DateTime<chrono::Utc> = issue(&app, id).await["ignore_until"].as_str().unwrap().parse().unwrap();
    let hours = (until - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");
    let both =
        app.call_server_fn(IgnoreIssue::PATH, Some(&cookie), &format!("id={id}&more_events=1&for_hours=1")).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'issue_status' AND target LIKE '%ignored until%'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}
