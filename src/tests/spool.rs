//! Redis faults through the real binary: while Redis is restarted or stopped, ingest keeps
//! answering from its on-disk spool, and every event answered 200/202 is stored exactly once —
//! also when the process itself is killed with events still in the spool.

use crate::helpers::{ChaosProxy, TestApp};
use crate::process::{RedisProcess, ServerProcess, http};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a steady load saw: ids answered 2xx (Sentry event ids and REST error ids) and every
/// other answer.
#[derive(Default)]
struct Seen {
    event_ids: HashSet<String>,
    error_ids: HashSet<String>,
    others: Vec<String>,
}

/// Sends about 100 requests a second (Sentry store, envelope and REST, in turn) until `running`
/// turns false.
async fn steady_load(server: Arc<ServerProcess>, running: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    let auth = server.auth();
    let store = format!("/api/{}/store/", server.project);
    let envelope = format!("/api/{}/envelope/", server.project);
    let mut n = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while running.load(Ordering::SeqCst) {
        tick.tick().await;
        n += 1;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (status, answer, kind) = match n % 3 {
            0 => {
                let body = format!(r#"{{"event_id": "{id}", "message": "stored {n}"}}"#);
                let (s, a) = http(&server.addr, "POST", &store, std::slice::from_ref(&auth), body.as_bytes()).await;
                (s, a, "event")
            }
            1 => {
                let body = format!(
                    "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"envelope {n}\",\"level\":\"warning\"}}\n"
                );
                let (s, a) = http(&server.addr, "POST", &envelope, std::slice::from_ref(&auth), body.as_bytes()).await;
                (s, a, "event")
            }
            _ => {
                let key = ("X-API-Key", crate::helpers::KEY.to_owned());
                let body = json!({"message": format!("rest {n}")}).to_string();
                let (s, a) = http(&server.addr, "POST", "/api/errors", &[key], body.as_bytes()).await;
                (s, a, "error")
            }
        };
        match (status, kind) {
            (200, "event") => {
                seen.event_ids.insert(id);
            }
            (202, "error") => {
                let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                seen.error_ids.insert(v["id"].as_str().unwrap_or_default().to_owned());
            }
            _ => seen.others.push(answer.chars().take(300).collect()),
        }
    }
    seen
}

/// Waits until every id seen is stored (60 s at most), then checks each is stored exactly once
/// and that the issues' counts agree.
async fn assert_stored_once(pool: &PgPool, seen: &Seen) {
    let accepted = (seen.event_ids.len() + seen.error_ids.len()) as i64;
    let started = Instant::now();
    let mut stored = 0;
    while started.elapsed() < Duration::from_secs(60) {
        stored = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM errors").fetch_one(pool).await.unwrap();
        if stored >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored, accepted, "every accepted event is stored, none twice");
    let event_ids: HashSet<String> =
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT event_id FROM errors WHERE source <> 'api'")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.simple().to_string())
            .collect();
    assert_eq!(event_ids, seen.event_ids);
    let error_ids: HashSet<String> = sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM errors WHERE source = 'api'")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(error_ids, seen.error_ids);
    let counted: i64 = sqlx::query_scalar("SELECT sum(event_count)::bigint FROM issues").fetch_one(pool).await.unwrap();
    assert_eq!(counted, accepted, "issue counts count each event once");
}

/// Runs the steady load for 3 s, then `fault`, then 5 s more; answers what it saw.
async fn load_through(server: Arc<ServerProcess>, fault: impl std::future::Future<Output = ()>) -> Seen {
    let running = Arc::new(AtomicBool::new(true));
    let load = tokio::spawn(steady_load(server, running.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    fault.await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    running.store(false, Ordering::SeqCst);
    load.await.unwrap()
}

#[sqlx::test]
async fn every_event_answered_while_redis_restarts_is_stored_exactly_once(pool: PgPool) {
    let mut redis = RedisProcess::start().await;
    let url = redis.url();
    let server = Arc::new(ServerProcess::start(&pool, &[("REDIS_URL", &url)]).await);
    let seen = load_through(server.clone(), async {
        // A restart that takes a second, as one with a large data set does.
        redis.down().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        redis.up().await;
    })
    .await;
    assert!(seen.others.is_empty(), "answers other than 200/202: {:?}", seen.others);
    assert!(seen.event_ids.len() + seen.error_ids.len() > 300, "the load ran");
    assert_stored_once(&pool, &seen).await;
}

#[sqlx::test]
async fn every_event_answered_while_redis_is_stopped_for_30_seconds_is_stored_exactly_once(pool: PgPool) {
    let mut redis = RedisProcess::start().await;
    let url = redis.url();
    let server = Arc::new(ServerProcess::start(&pool, &[("REDIS_URL", &url)]).await);
    let health = server.clone();
    let seen = load_through(server.clone(), async {
        redis.down().await;
        tokio::time::sleep(Duration::from_secs(15)).await;
        // Halfway through, the instance says what it holds.
        let (status, answer) = http(&health.addr, "GET", "/health", &[], b"").await;
        assert_eq!(status, 503, "{answer}");
        assert!(answer.contains("\"redis\":\"down\"") && answer.contains("wait in this instance's spool"), "{answer}");
        tokio::time::sleep(Duration::from_secs(15)).await;
        redis.up().await;
    })
    .await;
    assert!(seen.others.is_empty(), "answers other than 200/202: {:?}", &seen.others[..seen.others.len().min(5)]);
    assert!(seen.event_ids.len() + seen.error_ids.len() > 2000, "the load ran through the outage");
    assert_stored_once(&pool, &seen).await;
}

#[sqlx::test]
async fn a_process_killed_with_a_full_spool_replays_it_when_started_again(pool: PgPool) {
    let mut redis = RedisProcess::start().await;
    let url = redis.url();
    let spool = std::env::temp_dir().join(format!("faultline-test-spool-{}", uuid::Uuid::new_v4().simple()));
    let spool_dir = spool.to_string_lossy().into_owned();
    let prefix = format!("fltest:{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("FAULTLINE_SPOOL_DIR", spool_dir.as_str()),
        ("FAULTLINE_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut first = ServerProcess::start(&pool, &env).await;
    redis.down().await;
    let mut seen = Seen::default();
    let auth = first.auth();
    for n in 0..50 {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let body = format!(r#"{{"event_id": "{id}", "message": "spooled {n}"}}"#);
        let (status, answer) = http(
            &first.addr,
            "POST",
            &format!("/api/{}/store/", first.project),
            std::slice::from_ref(&auth),
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        seen.event_ids.insert(id);
    }
    // A crash: no chance to replay anything.
    first.child.kill().await.unwrap();
    redis.up().await;
    let _second = ServerProcess::start(&pool, &env).await;
    assert_stored_once(&pool, &seen).await;
    let _ = std::fs::remove_dir_all(&spool);
}

#[sqlx::test]
async fn a_full_spool_answers_429_with_retry_after_and_keeps_what_it_took(pool: PgPool) {
    let proxy = ChaosProxy::start(&crate::helpers::redis_addr()).await;
    let app = TestApp::spawn_with(pool, |s| {
        s.redis_url = faultline::server::config::Secret::new(format!("redis://127.0.0.1:{}", proxy.port));
        s.spool_max_bytes = 4096;
    })
    .await;
    proxy.cut();
    let mut kept = Vec::new();
    let refused = loop {
        let a = app
            .post_raw(Some(crate::helpers::KEY), json!({"message": format!("kept {}", kept.len())}).to_string())
            .await;
        match a.status {
            StatusCode::ACCEPTED => kept.push(a.body["id"].as_str().unwrap().to_owned()),
            _ => break a,
        }
        assert!(kept.len() < 100, "a 4 KiB spool took 100 errors");
    };
    assert!(!kept.is_empty(), "the spool took errors before it was full");
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::TOO_MANY_REQUESTS, "spool_full"),
        "{}",
        refused.body
    );
    assert!(refused.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s > 0)));

    proxy.restore();
    let stored = app.wait_for_errors(kept.len()).await;
    let mut stored: Vec<String> = stored.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    stored.sort();
    kept.sort();
    assert_eq!(stored, kept, "what the spool took is stored once Redis is back");
    // Once replayed, the spool takes again.
    assert!(app.state.spool.as_ref().unwrap().is_empty());
}
