//! Failing parts and poison: entries delivered too often are set aside, `/health` tells when no
//! worker runs or the queue is stuck, and ingest and the worker ride out a PostgreSQL outage.

use crate::helpers::{ChaosProxy, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use deadpool_redis::redis;
use faultline::server::worker;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

async fn stored(app: &TestApp, message: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM errors WHERE message = $1")
        .bind(message)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// The dead-letter stream's entries: (entry JSON, reason).
async fn dead_letters(app: &TestApp) -> Vec<(String, String)> {
    let mut conn = app.state.redis.get().await.unwrap();
    let stream = format!("{}:events:dead", app.state.settings.redis_prefix);
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    entries
        .into_iter()
        .map(|(_, fields)| {
            let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone()).unwrap_or_default();
            (get("e"), get("reason"))
        })
        .collect()
}

/// Polls `check` every 50 ms until it is true or `within` passes; answers whether it became true.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn an_entry_delivered_three_times_goes_to_the_dead_letter_stream_not_to_a_fourth_worker(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.claim_idle = Duration::ZERO).await;
    let queue = &app.state.queue;
    queue.ensure_group().await.unwrap();
    queue.push(&app.queued("poison").into()).await.unwrap();
    queue.push(&app.queued("innocent").into()).await.unwrap();
    // Three workers take the poison entry and die before acknowledging it; the innocent entry,
    // read with it by the first two, has been delivered twice.
    let read = queue.read("crashed-1", 10, Duration::from_millis(10)).await.unwrap();
    assert_eq!(read.len(), 2);
    let ids: Vec<String> = read.iter().map(|d| d.stream_id.clone()).collect();
    assert_eq!(queue.claim("crashed-2", Duration::ZERO, &ids).await.unwrap().len(), 2);
    assert_eq!(queue.claim("crashed-3", Duration::ZERO, &ids[..1]).await.unwrap().len(), 1);
    let pending = queue.pending_idle(Duration::ZERO, 10).await.unwrap();
    assert_eq!(pending, vec![(ids[0].clone(), 3), (ids[1].clone(), 2)]);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped));
    let drained = eventually(Duration::from_secs(10), || async { queue.depth().await.unwrap() == 0 }).await;
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert!(drained, "the queue was not drained");
    assert_eq!(stored(&app, "poison").await, 0, "the poison entry went to no fourth worker");
    assert_eq!(stored(&app, "innocent").await, 1, "the entry delivered twice was stored, alone");
    let dead = dead_letters(&app).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].0.contains("\"poison\""), "{}", dead[0].0);
    assert!(dead[0].1.contains("delivered 3 times"), "{}", dead[0].1);
}

#[sqlx::test]
async fn health_answers_503_while_a_worker_process_has_no_worker_running(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| {
        s.run_worker = true;
        s.workers = 1;
    })
    .await;
    let health = || async { app.request(Method::GET, "/health", None, None).await };
    let none = health().await;
    assert_eq!(none.status, StatusCode::SERVICE_UNAVAILABLE, "{}", none.body);
    assert_eq!((&none.body["worker"]["running"], &none.body["worker"]["expected"]), (&json!(0), &json!(1)));
    assert!(none.body["problems"].to_string().contains("no worker is running"), "{}", none.body);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped));
    assert!(eventually(Duration::from_secs(5), || async { health().await.status == StatusCode::OK }).await);
    assert_eq!(health().await.body["worker"]["running"], json!(1));
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(health().await.status, StatusCode::SERVICE_UNAVAILABLE, "the stopped worker is no longer counted");
}

#[sqlx::test]
async fn health_answers_503_when_the_oldest_queued_entry_has_waited_too_long(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.health_max_queue_age = Duration::from_secs(300)).await;
    app.state.queue.ensure_group().await.unwrap();
    let health = || async { app.request(Method::GET, "/health", None, None).await };
    assert_eq!(health().await.status, StatusCode::OK);
    assert_eq!(health().await.body["queue"]["oldest_seconds"], Value::Null);
    // An entry whose id says it was queued ten minutes ago.
    let ten_minutes_ago = Utc::now().timestamp_millis() - 600_000;
    let mut conn = app.state.redis.get().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(format!("{}:events", app.state.settings.redis_prefix))
        .arg(format!("{ten_minutes_ago}-0"))
        .arg("e")
        .arg(serde_json::to_vec(&faultline::server::queue::QueuedEntry::Api(app.queued("old"))).unwrap())
        .query_async(&mut conn)
        .await
        .unwrap();
    let stuck = health().await;
    assert_eq!(stuck.status, StatusCode::SERVICE_UNAVAILABLE, "{}", stuck.body);
    let age = stuck.body["queue"]["oldest_seconds"].as_u64().unwrap();
    assert!((600..700).contains(&age), "{age}");
    app.process().await;
    assert_eq!(health().await.status, StatusCode::OK, "healthy again once the entry is stored");
}

/// Steady Sentry ingest through a PostgreSQL outage of 60 seconds: no answer is a 5xx for the
/// known key, every accepted event is stored exactly once, and the backlog drains after the
/// outage in less time than the outage lasted.
#[sqlx::test]
async fn ingest_and_the_worker_ride_out_a_postgres_outage(pool: PgPool) {
    const OUTAGE: Duration = Duration::from_secs(60);
    const RATE_PER_S: u64 = 100;
    let options = pool.connect_options().as_ref().clone();
    let proxy = ChaosProxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
    let proxied = PgPoolOptions::new()
        .max_connections(6)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options.port(proxy.port));
    let app = Arc::new(TestApp::spawn(proxied).await);
    let key = app.public_key().await;
    let (stop_workers, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> =
        (0..2).map(|_| tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped.clone()))).collect();

    let sending = Arc::new(AtomicBool::new(true));
    let accepted = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sender = {
        let (app, sending, accepted, failures) = (app.clone(), sending.clone(), accepted.clone(), failures.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE_PER_S));
            let mut n = 0u64;
            while sending.load(Ordering::SeqCst) {
                tick.tick().await;
                n += 1;
                let event =
                    json!({"event_id": uuid::Uuid::new_v4().simple().to_string(), "message": format!("outage {n}")});
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(format!("/api/{}/store/", app.project))
                    .header("x-sentry-auth", format!("Sentry sentry_key={key}, sentry_version=7"))
                    .header("content-type", "application/json")
                    .body(Body::from(event.to_string()))
                    .unwrap();
                let a = app.send(req).await;
                if a.status == StatusCode::OK {
                    accepted.fetch_add(1, Ordering::SeqCst);
                } else {
                    failures.lock().unwrap().push((a.status, a.body.to_string()));
                }
            }
        })
    };
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM errors").fetch_one(&app.state.db).await.unwrap_or(-1)
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    sending.store(false, Ordering::SeqCst);
    sender.await.unwrap();
    let total = accepted.load(Ordering::SeqCst) as i64;
    proxy.restore();
    let restored = Instant::now();
    let drained = eventually(OUTAGE, || async { count().await == total }).await;
    let drain_time = restored.elapsed();
    stop_workers.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    eprintln!(
        "postgres outage of {OUTAGE:?}: {total} events accepted, {} refused, drained in {drain_time:?}",
        failures.len()
    );
    assert!(failures.is_empty(), "{} answers were not 200, first: {:?}", failures.len(), failures.first());
    assert!(total >= (RATE_PER_S * OUTAGE.as_secs() / 2) as i64, "only {total} events sent");
    assert!(drained, "{} of {total} stored {drain_time:?} after the outage", count().await);
    assert!(drain_time < OUTAGE, "draining took {drain_time:?}");
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT event_id) FROM errors").fetch_one(&app.state.db).await.unwrap();
    assert_eq!((count().await, distinct), (total, total), "every accepted event stored exactly once");
    assert_eq!(app.state.queue.depth().await.unwrap(), 0);
}

#[sqlx::test]
async fn an_address_guessing_keys_is_slowed_down_and_real_keys_keep_working(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.auth_failures_per_minute = 3).await;
    let dsn_key = app.public_key().await;
    let from = |ip: [u8; 4], path: &str, header: (&str, String)| {
        let mut req = Request::builder().method(Method::POST).uri(path).header(header.0, header.1);
        req = req.header("content-type", "application/json");
        let mut req = req.body(Body::from(json!({"message": "m"}).to_string())).unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 40_000))));
        req
    };
    let store = format!("/api/{}/store/", app.project);
    let sentry = |key: &str| ("x-sentry-auth", format!("Sentry sentry_key={key}, sentry_version=7"));
    let attacker = [203, 0, 113, 9];
    // The real keys are known to the cache before the guessing starts.
    assert_eq!(app.send(from(attacker, &store, sentry(&dsn_key))).await.status, StatusCode::OK);
    assert_eq!(
        app.send(from(attacker, "/api/errors", ("x-api-key", crate::helpers::KEY.into()))).await.status,
        StatusCode::ACCEPTED
    );
    for n in 0..3 {
        let guess = format!("{:032x}", n);
        assert_eq!(app.send(from(attacker, &store, sentry(&guess))).await.status, StatusCode::FORBIDDEN);
    }
    let blocked = app.send(from(attacker, &store, sentry(&format!("{:032x}", 99)))).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| (1..=60).contains(&n))));
    let rest = app.send(from(attacker, "/api/errors", ("x-api-key", "guessed".into()))).await;
    assert_eq!((rest.status, rest.error_code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_failures"));
    // Known keys still work from the same address; other addresses are not affected.
    assert_eq!(app.send(from(attacker, &store, sentry(&dsn_key))).await.status, StatusCode::OK);
    assert_eq!(
        app.send(from(attacker, "/api/errors", ("x-api-key", crate::helpers::KEY.into()))).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.send(from([198, 51, 100, 1], &store, sentry(&format!("{:032x}", 7)))).await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test]
async fn a_batch_held_through_an_outage_is_not_taken_over_by_other_workers(pool: PgPool) {
    let options = pool.connect_options().as_ref().clone();
    let proxy = ChaosProxy::start(&format!("{}:{}", options.get_host(), options.get_port())).await;
    let proxied = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with(options.port(proxy.port));
    let app = TestApp::spawn_with(proxied, |s| s.claim_idle = Duration::from_millis(300)).await;
    let queue = &app.state.queue;
    queue.ensure_group().await.unwrap();
    proxy.cut();
    queue.push(&app.queued("held through the outage").into()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> =
        (0..2).map(|_| tokio::spawn(worker::run_until_stopped(app.state.clone(), stopped.clone()))).collect();
    // One worker takes the entry and holds it; the other keeps looking for idle entries to claim.
    assert!(eventually(Duration::from_secs(5), || async { queue.depth().await.unwrap() == 1 }).await);
    let mut counts = Vec::new();
    let watching = Instant::now();
    while watching.elapsed() < Duration::from_secs(3) {
        let pending: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
            .arg(format!("{}:events", app.state.settings.redis_prefix))
            .arg("workers")
            .query_async(&mut app.state.redis.get().await.unwrap())
            .await
            .unwrap();
        if pending.0 == 1 {
            counts.push(queue.pending_idle(Duration::ZERO, 10).await.unwrap()[0].1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.restore();
    let stored = eventually(Duration::from_secs(10), || async { queue.depth().await.unwrap() == 0 }).await;
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    assert!(!counts.is_empty(), "the entry was never seen pending");
    assert!(counts.iter().all(|&n| n == 1), "the held entry was taken over: deliveries {counts:?}");
    assert!(stored, "stored once the database was back");
    assert_eq!(stored_count(&app).await, 1);
}

async fn stored_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM errors").fetch_one(&app.state.db).await.unwrap()
}
