//! `GET /metrics`: off without its token, then a Prometheus text scrape (parsed by a Prometheus
//! parser) whose counters and gauges follow what ingest, the worker and the requests did.

use crate::helpers::{KEY, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceExt;

const TOKEN: &str = "metrics-token-for-the-test-0123";

/// The status, content type and body of `GET /metrics` with `authorization`.
async fn get_metrics(app: &TestApp, authorization: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(Method::GET).uri("/metrics");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let res = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, String::from_utf8(body.to_vec()).unwrap())
}

/// A scrape, parsed, and its text.
async fn scrape_text(app: &TestApp) -> (Scrape, String) {
    let (status, content_type, text) = get_metrics(app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    (Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a Prometheus text exposition"), text)
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_text(app).await.0
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
        .sum()
}

#[sqlx::test]
async fn metrics_answer_404_without_a_token_and_401_without_the_right_bearer(pool: PgPool) {
    let off = TestApp::spawn(pool.clone()).await;
    let (status, _, text) = get_metrics(&off, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");

    let on = TestApp::spawn_with(pool, |s| s.metrics_token = Some(faultline::server::config::Secret::new(TOKEN))).await;
    for wrong in [None, Some("Bearer not-the-token"), Some(TOKEN), Some(&format!("Basic {TOKEN}") as &str)] {
        let (status, _, text) = get_metrics(&on, wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}: {text}");
        assert!(!text.contains("faultline_"), "{text}");
    }
    let s = scrape(&on).await;
    assert_eq!(value(&s, "faultline_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
}

#[sqlx::test]
async fn a_scrape_counts_events_accepted_refused_and_stored_and_measures_the_queue(pool: PgPool) {
    let app =
        TestApp::spawn_with(pool, |s| s.metrics_token = Some(faultline::server::config::Secret::new(TOKEN))).await;
    app.post_error(json!({"message": "one"})).await;
    app.post_error(json!({"message": "two"})).await;
    assert_eq!(
        app.post_raw(Some(KEY), json!({"level": "error"}).to_string()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.post_raw(Some("wrong-key"), json!({"message": "x"}).to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let key = app.public_key().await;
    let envelope = |id: &str| {
        format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"from an sdk\",\"level\":\"error\"}}\n"
        )
    };
    let path = format!("/api/{}/envelope/?sentry_key={key}&sentry_version=7", app.project);
    let send = |body: String| {
        let req = Request::builder().method(Method::POST).uri(&path).body(Body::from(body)).unwrap();
        app.send(req)
    };
    assert_eq!(send(envelope(&"a".repeat(32))).await.status, StatusCode::OK);
    // While the database cannot take more, SDKs are asked to come back later.
    app.state.storage.set_refusing(Some("the test's full disk".into()));
    assert_eq!(send(envelope(&"b".repeat(32))).await.status, StatusCode::TOO_MANY_REQUESTS);
    app.state.storage.set_refusing(None);
    let bad = format!("/api/{}/envelope/?sentry_key={}&sentry_version=7", app.project, "0".repeat(32));
    let req = Request::builder().method(Method::POST).uri(&bad).body(Body::from(envelope(&"c".repeat(32)))).unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);

    let (s, text) = scrape_text(&app).await;
    assert_eq!(value(&s, "faultline_events_accepted_total", &[("endpoint", "rest")]), 2.0);
    assert_eq!(value(&s, "faultline_events_accepted_total", &[("endpoint", "envelope")]), 1.0);
    assert_eq!(value(&s, "faultline_events_rejected_total", &[("reason", "invalid_field")]), 1.0);
    assert_eq!(value(&s, "faultline_events_rejected_total", &[("reason", "unauthorized")]), 1.0);
    assert_eq!(value(&s, "faultline_events_rejected_total", &[("reason", "forbidden")]), 1.0);
    assert_eq!(value(&s, "faultline_events_rate_limited_total", &[("reason", "storage_full")]), 1.0);
    assert_eq!(value(&s, "faultline_queue_length", &[]), 3.0);
    assert!(value(&s, "faultline_queue_oldest_age_seconds", &[]) >= 0.0);
    assert_eq!(value(&s, "faultline_events_stored_total", &[]), 0.0);
    assert_eq!(
        value(&s, "faultline_http_requests_total", &[("route", "/api/errors"), ("method", "POST"), ("status", "202")]),
        2.0
    );
    // (The parser drops samples whose label values hold braces, which Prometheus reads well.)
    let line = r#"faultline_http_requests_total{route="/api/{project_id}/envelope/",method="POST",status="429"} 1"#;
    assert!(text.lines().any(|l| l == line), "{text}");
    assert_eq!(value(&s, "faultline_service_up", &[("service", "postgres")]), 1.0);
    assert_eq!(value(&s, "faultline_service_up", &[("service", "redis")]), 1.0);
    assert!(value(&s, "process_resident_memory_bytes", &[]) > 1_000_000.0);
    let max = f64::from(app.state.db.options().get_max_connections());
    assert_eq!(value(&s, "faultline_db_pool_max_connections", &[]), max);
    assert!(value(&s, "faultline_db_pool_connections", &[("state", "idle")]) >= 1.0);

    assert_eq!(app.process().await, 3);
    let s = scrape(&app).await;
    assert_eq!(value(&s, "faultline_events_stored_total", &[]), 3.0);
    assert_eq!(value(&s, "faultline_queue_length", &[]), 0.0);
    assert_eq!(value(&s, "faultline_queue_pending", &[]), 0.0);
    assert_eq!(value(&s, "faultline_worker_batch_duration_seconds_count", &[]), 1.0);
    assert_eq!(value(&s, "faultline_worker_batch_entries_sum", &[]), 3.0);
    // The scrapes themselves are requests too; no path with ids or keys becomes a label.
    assert!(value(&s, "faultline_http_requests_total", &[("route", "/metrics"), ("status", "200")]) >= 1.0);
    assert!(s.samples.iter().all(|x| x.labels.get("route").is_none_or(|r| !r.contains(&key))), "{:?}", s.samples);
}
