//! Overload through the real binary: many clients at once, mixed with compression bombs, garbage
//! and wrong keys, against a small memory budget. The server's memory stays under its ceiling,
//! excess is answered 429/503 with `Retry-After` (never 500), `/health` keeps answering, every
//! event answered 200 is stored, and the server catches up afterwards.

use crate::process::{ServerProcess, http};
use sqlx::PgPool;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Budget of request bytes the server under test may hold.
const BUDGET_MIB: u64 = 32;
/// The ceiling its resident memory must stay under: the idle server, the budget, and the
/// worker's batches of large events, with room for the allocator.
const CEILING_MIB: u64 = 400;

#[sqlx::test]
async fn overload_with_bombs_and_garbage_is_shed_and_nothing_answered_200_is_lost(pool: PgPool) {
    let budget = (BUDGET_MIB << 20).to_string();
    let server = Arc::new(
        ServerProcess::start(&pool, &[("FAULTLINE_INGEST_MAX_BYTES_IN_FLIGHT", &budget), ("FAULTLINE_WORKERS", "2")])
            .await,
    );
    let idle = server.rss();
    let store = format!("/api/{}/store/", server.project);
    let envelope = format!("/api/{}/envelope/", server.project);
    // A gzip body of ~40 KB that inflates to 40 MiB, and a large but valid event.
    let bomb = Arc::new(gzip(&vec![b' '; 40 << 20]));
    let blob = Arc::new("x".repeat(900_000));
    let running = Arc::new(AtomicBool::new(true));
    let ok = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(std::sync::Mutex::new(Vec::new()));
    let accepted_ids = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..24u64 {
        let (server, store, envelope, bomb, blob) =
            (server.clone(), store.clone(), envelope.clone(), bomb.clone(), blob.clone());
        let (running, ok, shed, bad, accepted_ids) =
            (running.clone(), ok.clone(), shed.clone(), bad.clone(), accepted_ids.clone());
        clients.push(tokio::spawn(async move {
            let auth = server.auth();
            let mut n = 0u64;
            while running.load(Ordering::SeqCst) {
                n += 1;
                // Events carry their id, as SDKs' do: a retried or doubly queued one is stored once.
                let id = uuid::Uuid::new_v4().simple().to_string();
                let (status, answer, counts) = match (c + n) % 6 {
                    0 => {
                        let h = [auth.clone(), ("Content-Encoding", "gzip".into())];
                        let (s, a) = http(&server.addr, "POST", &envelope, &h, &bomb).await;
                        (s, a, false)
                    }
                    1 => {
                        let (s, a) =
                            http(&server.addr, "POST", &store, std::slice::from_ref(&auth), b"\x00\xffgarbage{{{")
                                .await;
                        (s, a, false)
                    }
                    2 => {
                        let wrong = ("X-Sentry-Auth", "Sentry sentry_key=00000000000000000000000000000000".to_owned());
                        let (s, a) = http(&server.addr, "POST", &store, &[wrong], br#"{"message":"x"}"#).await;
                        (s, a, false)
                    }
                    3 => {
                        let big = format!(r#"{{"event_id": "{id}", "message": "big", "extra": {{"blob": "{blob}"}}}}"#);
                        let (s, a) =
                            http(&server.addr, "POST", &store, std::slice::from_ref(&auth), big.as_bytes()).await;
                        (s, a, true)
                    }
                    _ => {
                        let event = format!(r#"{{"event_id": "{id}", "message": "load {c} {n}"}}"#);
                        let (s, a) =
                            http(&server.addr, "POST", &store, std::slice::from_ref(&auth), event.as_bytes()).await;
                        (s, a, true)
                    }
                };
                match status {
                    200 if counts => {
                        ok.fetch_add(1, Ordering::SeqCst);
                        accepted_ids.lock().unwrap().push(id);
                    }
                    200 | 400 | 403 | 413 => {}
                    429 | 503 => {
                        shed.fetch_add(1, Ordering::SeqCst);
                        if !answer.to_ascii_lowercase().contains("retry-after:") {
                            bad.lock().unwrap().push(format!("{status} without Retry-After"));
                        }
                    }
                    other => {
                        bad.lock().unwrap().push(format!("{other}: {}", answer.chars().take(300).collect::<String>()))
                    }
                }
            }
        }));
    }
    // Memory and health while the load runs.
    let started = Instant::now();
    let mut peak = 0;
    let mut slow_health = Vec::new();
    while started.elapsed() < Duration::from_secs(20) {
        peak = peak.max(server.rss());
        let asked = Instant::now();
        let health = tokio::time::timeout(Duration::from_secs(2), http(&server.addr, "GET", "/health", &[], b"")).await;
        if !matches!(health, Ok((200 | 503, _))) {
            slow_health.push(asked.duration_since(started));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.store(false, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    peak = peak.max(server.rss());
    let accepted = ok.load(Ordering::SeqCst) as i64;
    // Caught up: every event answered 200 is stored.
    let drain = Instant::now();
    let mut stored = 0;
    while drain.elapsed() < Duration::from_secs(120) {
        stored = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM errors").fetch_one(&pool).await.unwrap();
        if stored >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "overload: {accepted} stored events accepted, {} shed, idle {} MiB, peak {} MiB, caught up in {:?}",
        shed.load(Ordering::SeqCst),
        idle >> 20,
        peak >> 20,
        drain.elapsed()
    );
    server.clean_redis().await;
    let bad = bad.lock().unwrap().clone();
    assert!(bad.is_empty(), "{} bad answers, first: {:?}", bad.len(), bad.first());
    assert!(slow_health.is_empty(), "/health did not answer within 2 s at {slow_health:?}");
    assert!(peak < CEILING_MIB << 20, "peak memory {} MiB over the ceiling of {CEILING_MIB} MiB", peak >> 20);
    assert!(accepted > 100, "only {accepted} events accepted");
    // A request answered 503 after its event was queued (Redis answered too late) may be stored
    // too: every event answered 200 must be, and none twice.
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT event_id FROM errors").fetch_all(&pool).await.unwrap();
    let stored_ids: std::collections::HashSet<String> = ids.iter().map(|u| u.simple().to_string()).collect();
    assert_eq!(stored_ids.len(), ids.len(), "an event was stored twice");
    let missing = accepted_ids.lock().unwrap().iter().filter(|id| !stored_ids.contains(*id)).count();
    assert_eq!(missing, 0, "{missing} of {accepted} events answered 200 were not stored ({stored} rows)");
}
