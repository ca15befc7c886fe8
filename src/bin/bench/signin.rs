//! The sign-in phase: sign-in latency (p50/p95) under concurrent attempts with the right
//! password (each one a full Argon2id verification), and ingest's processed/s with and without
//! that sign-in traffic running beside it, back to back in one run.

use super::http::{Conn, request};
use super::load;
use super::{CONNECTIONS, Report, percentile, wait_drained};
use faultline::api::account::SignIn;
use faultline::model::encode_query_value;
use leptos::server_fn::ServerFn;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Concurrent sign-in clients.
const CLIENTS: usize = 16;

/// The account the bench server was started with (scripts/bench.sh sets both).
fn credentials() -> (String, String) {
    let email = std::env::var("FAULTLINE_ADMIN_EMAIL").unwrap_or_else(|_| "bench@example.com".into());
    let password = std::env::var("FAULTLINE_ADMIN_PASSWORD").unwrap_or_else(|_| "bench admin password".into());
    (email, password)
}

/// What the sign-in clients saw.
struct Attempts {
    latencies_ms: Vec<f64>,
    other_statuses: u64,
    elapsed: Duration,
}

/// `CLIENTS` clients signing in until `stop` turns true.
async fn sign_in_load(addr: &str, stop: Arc<AtomicBool>) -> Attempts {
    let (email, password) = credentials();
    let body = format!("email={}&password={}&next=%2F", encode_query_value(&email), encode_query_value(&password));
    let req = Arc::new(request(
        "POST",
        SignIn::PATH,
        addr,
        &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "same-origin")],
        body.as_bytes(),
    ));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, req, addr) = (stop.clone(), req.clone(), addr.to_owned());
            tokio::spawn(async move {
                let mut conn = Conn::new(&addr);
                let (mut latencies, mut other) = (Vec::new(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    match conn.send(&req).await {
                        Ok((200, _)) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                        Ok(_) => other += 1,
                        Err(_) => {
                            other += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                (latencies, other)
            })
        })
        .collect();
    let mut out = Attempts { latencies_ms: Vec::new(), other_statuses: 0, elapsed: Duration::ZERO };
    for t in tasks {
        if let Ok((l, o)) = t.await {
            out.latencies_ms.extend(l);
            out.other_statuses += o;
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// Small events, closed loop for `seconds`: processed/s from the first send until all are stored.
async fn processed_rate(urls: &[String], small: &Arc<Vec<Vec<u8>>>, seconds: u64) -> Option<f64> {
    let run = load::closed_loop(urls, small.clone(), CONNECTIONS, Duration::from_secs(seconds), None).await;
    let start = Instant::now() - run.elapsed;
    let done = wait_drained(urls, Duration::from_secs(900)).await?;
    Some(run.ok as f64 / (done - start).as_secs_f64())
}

pub async fn run(urls: &[String], small: &Arc<Vec<Vec<u8>>>, seconds: u64, report: &mut Report) {
    let addr = &urls[0];
    println!("signin: {CLIENTS} clients signing in for 15 s…");
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (addr, stop) = (addr.clone(), stop.clone());
        async move { sign_in_load(&addr, stop).await }
    });
    tokio::time::sleep(Duration::from_secs(15)).await;
    stop.store(true, Ordering::Relaxed);
    let Ok(alone) = load.await else { return };
    let (p50, p95) = (percentile(&alone.latencies_ms, 0.5), percentile(&alone.latencies_ms, 0.95));
    let per_s = alone.latencies_ms.len() as f64 / alone.elapsed.as_secs_f64();
    report.row(
        format!("signin: {CLIENTS} concurrent, p50 / p95, sign-ins/s"),
        format!("{p50:.0} ms / {p95:.0} ms, {per_s:.1}/s ({} other answers)", alone.other_statuses),
    );

    println!("signin: small events for {seconds} s alone, then with the sign-in clients beside them…");
    let without = processed_rate(urls, small, seconds).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (addr, stop) = (addr.clone(), stop.clone());
        async move { sign_in_load(&addr, stop).await }
    });
    let with = processed_rate(urls, small, seconds).await;
    stop.store(true, Ordering::Relaxed);
    let beside = load.await.ok();
    let beside_count = beside.as_ref().map_or(0, |b| b.latencies_ms.len());
    let beside_p95 = beside.as_ref().map_or(f64::NAN, |b| percentile(&b.latencies_ms, 0.95));
    let show = |r: Option<f64>| r.map_or("did not finish".into(), |r| format!("{r:.0}"));
    report.row(
        "signin: small processed/s without / with sign-in traffic",
        format!("{} / {} ({beside_count} sign-ins beside, p95 {beside_p95:.0} ms)", show(without), show(with)),
    );
    report.json.insert(
        "signin".into(),
        json!({"clients": CLIENTS, "p50_ms": p50, "p95_ms": p95, "per_s": per_s, "other": alone.other_statuses,
               "small_processed_per_s_without": without, "small_processed_per_s_with": with,
               "sign_ins_beside": beside_count, "p95_ms_beside": beside_p95}),
    );
}
