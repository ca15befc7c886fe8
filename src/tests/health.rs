//! `/health` reports PostgreSQL and Redis truthfully: 503 naming what is down, then recovery.

use crate::helpers::{ChaosProxy, TestApp, redis_addr};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

async fn health(app: &TestApp) -> (StatusCode, Value) {
    let a = app.request(Method::GET, "/health", None, None).await;
    (a.status, a.body)
}

/// Polls /health until `want` or 15 s.
async fn wait_for(app: &TestApp, want: StatusCode) -> (StatusCode, Value) {
    let mut last = health(app).await;
    for _ in 0..60 {
        if last.0 == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = health(app).await;
    }
    last
}

#[sqlx::test]
async fn health_is_ok_with_both_services_and_counts_the_queue_and_the_work_done(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.post_error(json!({"message": "waiting"})).await;
    let (status, body) = health(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&body["status"], &body["postgres"], &body["redis"], &body["queue"]["pending"], &body["worker"]["processed"]),
        (&json!("ok"), &json!("ok"), &json!("ok"), &json!(1), &json!(0))
    );
    assert!(body["queue"]["oldest_seconds"].is_u64(), "{body}");
    assert_eq!((&body["worker"]["expected"], &body["problems"]), (&json!(0), &json!([])), "no worker is expected here");
    // The warning about a Redis without persistence follows what this Redis says of itself.
    let mut conn = app.state.redis.get().await.unwrap();
    let aof: Vec<String> =
        deadpool_redis::redis::cmd("CONFIG").arg("GET").arg("appendonly").query_async(&mut conn).await.unwrap();
    let save: Vec<String> =
        deadpool_redis::redis::cmd("CONFIG").arg("GET").arg("save").query_async(&mut conn).await.unwrap();
    let keeps_nothing = aof[1] != "yes" && save[1].trim().is_empty();
    let warned =
        body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("keeps nothing on disk"));
    assert_eq!(warned, keeps_nothing, "{body}");
    app.process().await;
    let (_, body) = health(&app).await;
    assert_eq!((&body["queue"]["pending"], &body["worker"]["processed"]), (&json!(0), &json!(1)));
    assert_eq!(body["queue"]["oldest_seconds"], Value::Null);
}

#[sqlx::test]
async fn health_turns_503_when_redis_is_unreachable_and_recovers(pool: PgPool) {
    let proxy = ChaosProxy::start(&redis_addr()).await;
    let app = TestApp::spawn_with(pool, |s| {
        s.redis_url = faultline::server::config::Secret::new(format!("redis://127.0.0.1:{}", proxy.port))
    })
    .await;
    assert_eq!(health(&app).await.0, StatusCode::OK);

    proxy.cut();
    let (status, body) = wait_for(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!((body["redis"].clone(), body["postgres"].clone()), (json!("down"), json!("ok")));
    // Ingest keeps the error in the spool, and health says so.
    let a = app.post_raw(Some(crate::helpers::KEY), json!({"message": "m"}).to_string()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let (_, body) = health(&app).await;
    assert_eq!(body["spool"]["entries"], json!(1), "{body}");

    proxy.restore();
    let (status, body) = wait_for(&app, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.wait_for_errors(1).await.len(), 1);
    assert_eq!(health(&app).await.1["spool"]["entries"], json!(0));
}

#[sqlx::test]
async fn without_a_spool_ingest_answers_503_while_redis_is_unreachable(pool: PgPool) {
    let proxy = ChaosProxy::start(&redis_addr()).await;
    let app = TestApp::spawn_with(pool, |s| {
        s.redis_url = faultline::server::config::Secret::new(format!("redis://127.0.0.1:{}", proxy.port));
        s.spool_max_bytes = 0;
    })
    .await;
    proxy.cut();
    // Ingest cannot queue, and says so instead of losing the error silently.
    let a = app.post_raw(Some(crate::helpers::KEY), json!({"message": "m"}).to_string()).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"), "{}", a.body);
    assert_eq!(health(&app).await.1["spool"], Value::Null);
}

#[sqlx::test]
async fn health_turns_503_when_postgres_is_unreachable_and_recovers(pool: PgPool) {
    let options = pool.connect_options().as_ref().clone();
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let proxy = ChaosProxy::start(&target).await;
    let proxied = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options.port(proxy.port));
    let app = TestApp::spawn(proxied).await;
    assert_eq!(health(&app).await.0, StatusCode::OK);
    // The key is looked up (and remembered) while PostgreSQL answers.
    assert_eq!(app.get("/api/stats").await.status, StatusCode::OK);

    proxy.cut();
    let (status, body) = wait_for(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!((body["postgres"].clone(), body["redis"].clone()), (json!("down"), json!("ok")));
    // Past the key cache's TTL the remembered key still holds, so the 503 of a read comes from
    // the read itself, and ingest, which needs only Redis, still accepts.
    app.state.clock.advance(app.state.settings.key_cache_ttl * 2);
    let read = app.get("/api/issues/1").await;
    assert_eq!((read.status, read.error_code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    let posted = app.post_raw(Some(crate::helpers::KEY), json!({"message": "during the outage"}).to_string()).await;
    assert_eq!(posted.status, StatusCode::ACCEPTED, "{}", posted.body);

    proxy.restore();
    let (status, body) = wait_for(&app, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
