//! The Redis → worker → PostgreSQL pipeline: idempotence, reclaiming, live updates, the loop.

use crate::helpers::TestApp;
use axum::http::StatusCode;
use faultline::model::LiveUpdate;
use faultline::server::worker;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

async fn error_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM errors").fetch_one(&app.state.db).await.unwrap()
}

#[sqlx::test]
async fn a_redelivered_entry_is_stored_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let entry = app.queued("twice");
    app.state.queue.push(&entry.clone().into()).await.unwrap();
    app.state.queue.push(&entry.clone().into()).await.unwrap();
    assert_eq!(app.process().await, 2);
    // And once more in a later batch.
    app.state.queue.push(&entry.clone().into()).await.unwrap();
    assert_eq!(app.process().await, 1);
    assert_eq!(error_count(&app).await, 1);
    let e = app.get(&format!("/api/errors/{}", entry.id)).await.body;
    let issue = app.get(&format!("/api/issues/{}", e["issue_id"])).await.body;
    assert_eq!(issue["count"], json!(1), "the issue counts the error once");
}

#[sqlx::test]
async fn a_worker_killed_between_read_and_ack_loses_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.claim_idle = Duration::from_millis(100)).await;
    let entry = app.queued("in flight when the worker died");
    app.state.queue.ensure_group().await.unwrap();
    app.state.queue.push(&entry.clone().into()).await.unwrap();

    // A worker reads the entry and dies before storing or acknowledging it.
    let taken = app.state.queue.read("doomed-worker", 10, Duration::from_millis(10)).await.unwrap();
    assert_eq!(taken.len(), 1);
    drop(taken);
    // Other workers do not get it as a new entry...
    assert_eq!(app.process().await, 0);
    assert_eq!(error_count(&app).await, 0);

    // ...but a running worker reclaims it once it has been idle long enough.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped));
    let mut status = StatusCode::NOT_FOUND;
    for _ in 0..100 {
        status = app.get(&format!("/api/errors/{}", entry.id)).await.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(status, StatusCode::OK, "the reclaimed entry was stored");
    assert_eq!(error_count(&app).await, 1);
    assert_eq!(app.state.queue.depth().await.unwrap(), 0);
}

#[sqlx::test]
async fn the_running_worker_stores_posted_errors_and_stops_on_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped));
    let id = app.post_error(json!({"message": "live"})).await;
    let mut found = false;
    for _ in 0..100 {
        if app.get(&format!("/api/errors/{id}")).await.status == StatusCode::OK {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle).await.expect("worker stops").unwrap();
    assert!(found);
}

#[sqlx::test]
async fn each_stored_batch_is_announced_on_the_updates_channel(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let client = deadpool_redis::redis::Client::open(app.state.settings.redis_url.expose()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(app.state.updates_channel()).await.unwrap();
    let id = app.post_error(json!({"message": "announce me"})).await;
    app.process().await;
    let msg = {
        use futures_util::StreamExt;
        let mut stream = pubsub.on_message();
        tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("a message").expect("open")
    };
    let update: LiveUpdate = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
    assert_eq!(update.project_id, app.project);
    assert_eq!(update.errors.len(), 1);
    assert_eq!(update.errors[0].to_string(), id);
    assert_eq!(update.new_issues.len(), 1);
    assert_eq!(update.issues, update.new_issues);
}

#[sqlx::test]
async fn an_undecodable_entry_is_set_aside_without_blocking_the_rest(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.state.queue.ensure_group().await.unwrap();
    let mut conn = app.state.redis.get().await.unwrap();
    let stream = format!("{}:events", app.state.settings.redis_prefix);
    let _: String = deadpool_redis::redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("e")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    let good = app.queued("fine");
    app.state.queue.push(&good.clone().into()).await.unwrap();
    assert_eq!(app.process().await, 2);
    assert_eq!(error_count(&app).await, 1);
    let dead: i64 =
        deadpool_redis::redis::cmd("XLEN").arg(format!("{stream}:dead")).query_async(&mut conn).await.unwrap();
    assert_eq!(dead, 1);
    assert_eq!(app.state.queue.depth().await.unwrap(), 0);
}

#[sqlx::test]
async fn open_dashboards_get_each_stored_batch_and_status_change_over_sse(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (stop, hub) = app.start_live_hub();
    let base = app.serve().await;
    let cookie = app.session().await;
    let mut live = crate::helpers::Live::open(&base, &cookie).await;
    // The hub subscribes asynchronously: send until an update comes through.
    let mut id = String::new();
    for _ in 0..20 {
        id = app.post_error(json!({"message": "live one"})).await;
        app.process().await;
        if live.read_until(&id, Duration::from_millis(500)).await {
            break;
        }
    }
    assert!(live.received.contains(&id), "no update for the stored error: {}", live.received);
    assert!(live.received.contains("event: update"));
    let issue = app.get(&format!("/api/errors/{id}")).await.body["issue_id"].clone();
    app.put(&format!("/api/issues/{issue}/resolve")).await;
    assert!(
        live.read_until(&format!("\"status_changed\":[{issue}]"), Duration::from_secs(10)).await,
        "{}",
        live.received
    );
    stop.send(true).unwrap();
    hub.await.unwrap();
}
