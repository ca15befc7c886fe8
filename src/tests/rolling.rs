//! A rolling upgrade: entries the ingest of earlier releases queued (a bare error, as the first
//! releases wrote it; `{"api": …}` and `{"sentry": …}` without a format) are stored by this
//! worker, entries this build writes carry their format, and an entry of a newer format is left
//! pending for a newer worker instead of being stored wrongly or set aside.

use crate::helpers::TestApp;
use deadpool_redis::redis;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test]
async fn this_worker_stores_what_earlier_releases_queued_and_leaves_newer_formats_pending(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let project = app.project.get();
    let now = chrono::Utc::now().to_rfc3339();
    let error = |message: &str| {
        json!({
            "id": uuid::Uuid::now_v7(), "project_id": project, "received_at": now, "timestamp": now,
            "level": "error", "message": message, "stack_trace": null, "context": {"tags": {"os": "linux"}},
            "source": "backend", "url": null, "environment": "production", "release": "shop@1.0",
            "fingerprint": null, "platform": null
        })
    };
    let first_release = error("queued by the first release");
    let format_one = json!({"api": error("queued by the release before this one")});
    let sentry_format_one = json!({"sentry": {
        "id": uuid::Uuid::now_v7(), "project_id": project, "received_at": now,
        "event_id": "0123456789abcdef0123456789abcdef",
        "event": {"message": "an sdk event queued by the release before", "level": "warning", "platform": "python"}
    }});
    let mut newer = error("queued by a newer release");
    newer["v"] = json!(99);
    let newer = json!({"api": newer});
    for entry in [&first_release, &format_one, &sentry_format_one, &newer] {
        app.state.queue.push_encoded(entry.to_string().as_bytes()).await.unwrap();
    }

    app.process().await;
    let errors = app.get("/api/errors?limit=50").await.body["errors"].as_array().unwrap().clone();
    let mut messages: Vec<&str> = errors.iter().map(|e| e["message"].as_str().unwrap()).collect();
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            "an sdk event queued by the release before",
            "queued by the first release",
            "queued by the release before this one"
        ]
    );
    let old = errors.iter().find(|e| e["message"] == "queued by the first release").unwrap();
    assert_eq!(
        (&old["environment"], &old["release"], &old["level"]),
        (&json!("production"), &json!("shop@1.0"), &json!("error"))
    );
    let sdk = errors.iter().find(|e| e["message"] == "an sdk event queued by the release before").unwrap();
    assert_eq!(sdk["level"], "warning");

    // The newer entry waits, pending, for a worker that reads its format; nothing was set aside.
    assert_eq!(app.state.queue.depth().await.unwrap(), 1);
    assert_eq!(app.state.queue.pending().await.unwrap(), 1);
    let mut conn = app.state.redis.get().await.unwrap();
    let dead: u64 = redis::cmd("XLEN")
        .arg(format!("{}:events:dead", app.state.settings.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(dead, 0);

    // What this build queues says its format.
    app.state.queue.ack(&pending_ids(&app).await).await.unwrap();
    app.post_error(json!({"message": "queued by this build"})).await;
    let entries = app.stream_entries().await;
    assert_eq!(entries.len(), 1);
    let written: serde_json::Value = serde_json::from_str(&entries[0]).unwrap();
    assert_eq!(written["api"]["v"], faultline::server::queue::ENTRY_FORMAT);
    assert_eq!(app.process().await, 1);
}

/// The ids pending in the consumer group.
async fn pending_ids(app: &TestApp) -> Vec<String> {
    app.state.queue.pending_idle(std::time::Duration::ZERO, 100).await.unwrap().into_iter().map(|(id, _)| id).collect()
}
