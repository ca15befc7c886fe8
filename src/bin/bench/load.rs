//! The load phases: closed loop (fixed connections, full speed), open loop (fixed rate),
//! time-to-visible, the memory soak, and the scale-out run that kills one server mid-way.

use crate::events::{self, ID_PLACEHOLDER, SMALL, Target};
use crate::http::{Conn, get_json};
use crate::{API_KEY, CONNECTIONS, Report, sys};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What a closed loop saw.
#[derive(Default)]
pub struct LoadResult {
    pub ok: u64,
    pub throttled: u64,
    pub other: u64,
    pub failed: u64,
    pub elapsed: Duration,
    /// With tracked ids: the ids answered 200, and those whose fate is unknown (the connection
    /// broke after the request may have been sent).
    pub accepted_ids: Vec<Uuid>,
    pub uncertain_ids: Vec<Uuid>,
}

impl LoadResult {
    pub fn statuses(&self) -> String {
        format!("200: {}, 429: {}, other: {}, failed: {}", self.ok, self.throttled, self.other, self.failed)
    }
}

/// Per connection task: its counts and tracked ids.
#[derive(Default)]
struct TaskResult {
    ok: u64,
    throttled: u64,
    other: u64,
    failed: u64,
    accepted: Vec<Uuid>,
    uncertain: Vec<Uuid>,
}

/// Where each prepared request's placeholder event id starts (tracked runs).
pub fn placeholder_offsets(requests: &[Vec<u8>]) -> Vec<Option<usize>> {
    requests.iter().map(|r| r.windows(ID_PLACEHOLDER.len()).position(|w| w == ID_PLACEHOLDER.as_bytes())).collect()
}

/// Closed loop: `connections` senders over `addrs` (round robin; a sender whose server stops
/// answering moves to the next) for `duration`. With `kill = (after, pid)` the process `pid` gets
/// SIGKILL after that long. Requests holding the id placeholder get a fresh id per send, tracked.
pub async fn closed_loop(
    addrs: &[String],
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
    kill: Option<(Duration, u32)>,
) -> LoadResult {
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let offsets = Arc::new(placeholder_offsets(&requests));
    let addrs = Arc::new(addrs.to_vec());
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (stop, next, requests, offsets, addrs) =
                (stop.clone(), next.clone(), requests.clone(), offsets.clone(), addrs.clone());
            tokio::spawn(async move {
                let mut r = TaskResult::default();
                let mut which = c % addrs.len();
                let mut conn = Conn::new(&addrs[which]);
                let mut buf = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % requests.len();
                    let (req, id) = match offsets[i] {
                        Some(at) => {
                            let id = Uuid::new_v4();
                            buf.clear();
                            buf.extend_from_slice(&requests[i]);
                            buf[at..at + 32].copy_from_slice(id.simple().to_string().as_bytes());
                            (buf.as_slice(), Some(id))
                        }
                        None => (requests[i].as_slice(), None),
                    };
                    let was_connected = conn.is_connected();
                    match conn.send(req).await {
                        Ok((200, _)) => {
                            r.ok += 1;
                            r.accepted.extend(id);
                        }
                        Ok((429, _)) => r.throttled += 1,
                        Ok(_) => r.other += 1,
                        Err(e) => {
                            r.failed += 1;
                            if was_connected || e.kind() != std::io::ErrorKind::ConnectionRefused {
                                r.uncertain.extend(id);
                            }
                            which = (which + 1) % addrs.len();
                            conn = Conn::new(&addrs[which]);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
                r
            })
        })
        .collect();
    if let Some((after, pid)) = kill {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if !stop.load(Ordering::Relaxed) {
                println!("  SIGKILL to server pid {pid}");
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = LoadResult::default();
    for t in tasks {
        if let Ok(r) = t.await {
            out.ok += r.ok;
            out.throttled += r.throttled;
            out.other += r.other;
            out.failed += r.failed;
            out.accepted_ids.extend(r.accepted);
            out.uncertain_ids.extend(r.uncertain);
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// Open loop at `rate` per second for `duration` against one server: answers the
/// latencies of the accepted requests, in milliseconds.
pub async fn open_loop(addr: &str, requests: Arc<Vec<Vec<u8>>>, rate: u64, duration: Duration) -> Vec<f64> {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let l = latencies.clone();
    paced(addr, requests, rate, duration, move |ms| {
        if let Ok(mut v) = l.lock() {
            v.push(ms);
        }
    })
    .await;
    latencies.lock().map(|l| l.clone()).unwrap_or_default()
}

/// Sends `requests` round robin at `rate` per second for `duration`, each on a pooled connection;
/// `on_ok` gets the latency of each 200.
async fn paced(
    addr: &str,
    requests: Arc<Vec<Vec<u8>>>,
    rate: u64,
    duration: Duration,
    on_ok: impl Fn(f64) + Send + Sync + 'static,
) {
    let total = rate * duration.as_secs();
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let pool = Arc::new(tokio::sync::Mutex::new(Vec::<Conn>::new()));
    let on_ok = Arc::new(on_ok);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(4096));
    let start = tokio::time::Instant::now();
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let (pool, requests, addr, on_ok) = (pool.clone(), requests.clone(), addr.to_owned(), on_ok.clone());
        tokio::spawn(async move {
            let mut conn = pool.lock().await.pop().unwrap_or_else(|| Conn::new(&addr));
            let t = Instant::now();
            if matches!(conn.send(&requests[i as usize % requests.len()]).await, Ok((200, _))) {
                on_ok(t.elapsed().as_secs_f64() * 1000.0);
                pool.lock().await.push(conn);
            }
            drop(permit);
        });
    }
    // Wait for the stragglers.
    let _ = in_flight.acquire_many(4096).await;
}

/// Sends fresh events at `rate` per second for `duration` while one poller reads the newest
/// errors from `GET /api/errors` as fast as it answers; answers, per event, the time from send
/// to first seen (ms) and how many were never seen.
pub async fn time_to_visible(addr: &str, target: &Target, rate: u64, duration: Duration) -> (Vec<f64>, usize) {
    let since = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let sending = Arc::new(AtomicBool::new(true));
    let sender = {
        let (sent, sending, addr, target) = (sent.clone(), sending.clone(), addr.to_owned(), target.clone());
        tokio::spawn(async move {
            let mut rng = events::Rng(0x5EED);
            let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
            let start = tokio::time::Instant::now();
            let mut handles = Vec::new();
            for i in 0..rate * duration.as_secs() {
                tokio::time::sleep_until(start + interval * i as u32).await;
                let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
                let group = rng.below(300);
                let req = events::envelope_request(&target, &events::event(&mut rng, group, SMALL, now), false, false);
                let (sent, addr) = (sent.clone(), addr.clone());
                handles.push(tokio::spawn(async move {
                    let t = Instant::now();
                    if let Ok((200, body)) = Conn::new(&addr).send(&req).await
                        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                        && let Some(id) = v["id"].as_str()
                        && let Ok(mut s) = sent.lock()
                    {
                        s.insert(id.to_owned(), t);
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
            sending.store(false, Ordering::Relaxed);
        })
    };
    let path = format!("/api/errors?since={since}&limit=200");
    let mut conn = Conn::new(addr);
    let request = crate::http::request("GET", &path, addr, &[("x-api-key", API_KEY)], b"");
    let mut grace: Option<Instant> = None;
    loop {
        if let Ok((200, body)) = conn.send(&request).await
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        {
            let now = Instant::now();
            for e in v["errors"].as_array().into_iter().flatten() {
                if let Some(id) = e["event_id"].as_str() {
                    seen.entry(id.to_owned()).or_insert(now);
                }
            }
        }
        if !sending.load(Ordering::Relaxed) {
            let all_seen = sent.lock().map(|s| s.keys().all(|k| seen.contains_key(k))).unwrap_or(true);
            let g = *grace.get_or_insert_with(Instant::now);
            if all_seen || g.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = sender.await;
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let ttv: Vec<f64> = sent
        .iter()
        .filter_map(|(id, t)| seen.get(id).map(|s| s.saturating_duration_since(*t).as_secs_f64() * 1000.0))
        .collect();
    let missing = sent.len() - ttv.len();
    (ttv, missing)
}

/// One soak reading: seconds since the start, resident MiB, open sockets, MiB of the resident
/// memory in transparent huge pages.
type SoakSample = (f64, f64, usize, f64);

/// A long open-loop run at `rate`, sampling the server's memory every 5 s: shows whether it grows.
pub async fn soak(
    addr: &str,
    requests: Arc<Vec<Vec<u8>>>,
    pid: u32,
    rate: u64,
    duration: Duration,
    report: &mut Report,
) {
    let ok = Arc::new(AtomicU64::new(0));
    let counter = ok.clone();
    let load = {
        let (addr, requests) = (addr.to_owned(), requests.clone());
        tokio::spawn(async move {
            paced(&addr, requests, rate, duration, move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .await
        })
    };
    let start = Instant::now();
    let mut samples: Vec<SoakSample> = Vec::new();
    while !load.is_finished() {
        let at = start.elapsed().as_secs_f64();
        samples.push((at, sys::rss_mib(pid), sys::open_sockets(pid), sys::huge_pages_mib(pid)));
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let mean = |from: f64, to: f64, of: fn(&SoakSample) -> f64| {
        let v: Vec<f64> = samples.iter().filter(|s| s.0 >= from && s.0 < to).map(of).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let secs = duration.as_secs_f64();
    let rss = |s: &SoakSample| s.1;
    let sockets = |s: &SoakSample| s.2 as f64;
    let huge = |s: &SoakSample| s.3;
    let (early, late) = (mean(60.0, 120.0, rss), mean(secs - 60.0, secs + 10.0, rss));
    let (early_sockets, late_sockets) = (mean(60.0, 120.0, sockets), mean(secs - 60.0, secs + 10.0, sockets));
    let (early_huge, late_huge) = (mean(60.0, 120.0, huge), mean(secs - 60.0, secs + 10.0, huge));
    let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    report.row(
        format!("soak: {rate}/s for {:.0} min, memory", secs / 60.0),
        format!(
            "minute 2 mean {early:.0} MiB ({early_sockets:.0} sockets open, {early_huge:.0} MiB in huge pages), \
             last minute mean {late:.0} MiB ({late_sockets:.0} sockets, {late_huge:.0} MiB in huge pages), \
             max {max:.0} MiB ({} accepted)",
            ok.load(Ordering::Relaxed)
        ),
    );
    report.json.insert(
        "soak".into(),
        json!({"rate": rate, "seconds": secs, "accepted": ok.load(Ordering::Relaxed), "rss_minute_2_mib": early,
               "rss_last_minute_mib": late, "rss_max_mib": max, "sockets_minute_2": early_sockets,
               "sockets_last_minute": late_sockets, "huge_pages_minute_2_mib": early_huge,
               "huge_pages_last_minute_mib": late_huge, "samples": samples}),
    );
}

/// Several servers sharing PostgreSQL and Redis: spreads tracked small events over all of them,
/// checks each one's workers consume, SIGKILLs the first mid-run, then checks that every accepted
/// event is stored exactly once (the dead worker's pending entries reclaimed by the others).
pub async fn scale_out(
    addrs: &[String],
    pids: &[u32],
    target: &Target,
    project: i64,
    seconds: u64,
    database_url: Option<&str>,
    report: &mut Report,
) {
    let requests = Arc::new(events::prepare(target, 4000, 300, SMALL, true));
    let before: Vec<u64> = health_processed(addrs).await;
    let half = Duration::from_secs(seconds / 2);
    let kill = pids.first().map(|p| (half, *p));
    println!(
        "scale-out: {} servers, closed loop for {seconds} s, SIGKILL to the first at {} s…",
        addrs.len(),
        half.as_secs()
    );
    // Read each server's consumption just before the kill.
    let probe = {
        let addrs = addrs.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(half.saturating_sub(Duration::from_secs(1))).await;
            health_processed(&addrs).await
        })
    };
    let run = closed_loop(addrs, requests, CONNECTIONS, Duration::from_secs(seconds), kill).await;
    let mid = probe.await.unwrap_or_default();
    let start = Instant::now() - run.elapsed;
    let survivors: Vec<String> = addrs.iter().skip(usize::from(kill.is_some())).cloned().collect();
    let done = crate::wait_drained(&survivors, Duration::from_secs(900)).await;
    let consumed: Vec<u64> =
        mid.iter().zip(before.iter().chain(std::iter::repeat(&0))).map(|(m, b)| m - b.min(m)).collect();
    report.row(
        format!("scale-out: {} servers, accepted/s", addrs.len()),
        format!("{:.0}", run.ok as f64 / run.elapsed.as_secs_f64()),
    );
    report.row("scale-out: statuses", run.statuses());
    report.row(
        "scale-out: entries each server's workers stored before the kill",
        consumed.iter().map(u64::to_string).collect::<Vec<_>>().join(" / "),
    );
    report.row(
        "scale-out: processed/s (first send → all stored)",
        done.map_or("did not finish".into(), |d| format!("{:.0}", run.ok as f64 / (d - start).as_secs_f64())),
    );
    let mut check = json!(null);
    if let Some(url) = database_url
        && let Ok(db) = sqlx::PgPool::connect(url).await
    {
        let project = faultline::model::ProjectId::new(project);
        use crate::seed;
        let count = |ids: &[Uuid]| {
            let (db, ids) = (db.clone(), ids.to_vec());
            async move {
                let mut n = 0;
                for chunk in ids.chunks(10_000) {
                    n += seed::stored_among(&db, project, chunk).await?;
                }
                Ok::<i64, sqlx::Error>(n)
            }
        };
        let checked = async {
            Ok::<_, sqlx::Error>((
                count(&run.accepted_ids).await?,
                count(&run.uncertain_ids).await?,
                seed::count_errors(&db, project).await?,
            ))
        };
        let (accepted_stored, uncertain_stored, total) = match checked.await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bench: the exactly-once check could not read PostgreSQL: {e}");
                return;
            }
        };
        let lost = run.accepted_ids.len() as i64 - accepted_stored;
        let extra = total - accepted_stored - uncertain_stored;
        report.row(
            "scale-out: accepted / stored of those / lost / rows beyond them",
            format!(
                "{} / {accepted_stored} / {lost} / {extra} ({} in flight at the kill, {uncertain_stored} of them stored)",
                run.accepted_ids.len(),
                run.uncertain_ids.len()
            ),
        );
        check = json!({"accepted": run.accepted_ids.len(), "accepted_stored": accepted_stored, "lost": lost,
                       "rows_total": total, "unexplained_rows": extra, "in_flight_at_kill": run.uncertain_ids.len(),
                       "in_flight_stored": uncertain_stored});
    }
    report.json.insert(
        "scale_out".into(),
        json!({"servers": addrs.len(), "accepted_per_s": run.ok as f64 / run.elapsed.as_secs_f64(),
               "status_200": run.ok, "failed": run.failed, "consumed_before_kill": consumed,
               "processed_per_s": done.map(|d| run.ok as f64 / (d - start).as_secs_f64()), "exactly_once": check}),
    );
}

/// Each server's `worker.processed` from `/health` (0 where it does not answer).
async fn health_processed(addrs: &[String]) -> Vec<u64> {
    let mut out = Vec::new();
    for a in addrs {
        out.push(get_json(a, "/health", API_KEY).await.and_then(|h| h["worker"]["processed"].as_u64()).unwrap_or(0));
    }
    out
}

/// What the overload phase saw.
#[derive(Default)]
pub struct Overload {
    pub accepted: u64,
    pub throttled: u64,
    pub overloaded: u64,
    pub refused: u64,
    pub errors: u64,
    pub failed: u64,
    pub bad_sent: u64,
    pub peak_rss_mib: f64,
    pub slowest_health_ms: f64,
    pub health_unanswered: u64,
    pub elapsed: Duration,
}

/// Overload: `connections` senders at full speed (far past what the worker stores) of medium
/// events, one request in 50 a gzip bomb (40 KB inflating to 40 MiB) and one in 20 garbage, while
/// the server's memory and `/health`'s answer time are sampled.
pub async fn overload(
    target: &Target,
    pid: Option<u32>,
    good: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> Overload {
    let bomb = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = e.write_all(&vec![b' '; 40 << 20]);
        let body = e.finish().unwrap_or_default();
        let headers = [("x-sentry-auth", target.auth.as_str()), ("content-encoding", "gzip")];
        Arc::new(crate::http::request("POST", &target.path, &target.host, &headers, &body))
    };
    let garbage = Arc::new(crate::http::request(
        "POST",
        &target.path,
        &target.host,
        &[("x-sentry-auth", target.auth.as_str())],
        b"\x00\xff{not an envelope",
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Mutex::new(Overload::default()));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (stop, counts, next, good, bomb, garbage) =
                (stop.clone(), counts.clone(), next.clone(), good.clone(), bomb.clone(), garbage.clone());
            let addr = target.host.clone();
            tokio::spawn(async move {
                let mut conn = Conn::new(&addr);
                let mut mine = Overload::default();
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let (req, is_good) = if n % 50 == 7 {
                        (bomb.as_slice(), false)
                    } else if n % 20 == 3 {
                        (garbage.as_slice(), false)
                    } else {
                        (good[n as usize % good.len()].as_slice(), true)
                    };
                    if !is_good {
                        mine.bad_sent += 1;
                    }
                    match conn.send(req).await {
                        Ok((200, _)) if is_good => mine.accepted += 1,
                        Ok((429, _)) => mine.throttled += 1,
                        Ok((503, _)) => mine.overloaded += 1,
                        Ok((s, _)) if (400..500).contains(&s) => mine.refused += 1,
                        Ok((s, _)) if s >= 500 => mine.errors += 1,
                        Ok(_) => {}
                        Err(_) => {
                            mine.failed += 1;
                            conn = Conn::new(&addr);
                        }
                    }
                }
                if let Ok(mut c) = counts.lock() {
                    c.accepted += mine.accepted;
                    c.throttled += mine.throttled;
                    c.overloaded += mine.overloaded;
                    c.refused += mine.refused;
                    c.errors += mine.errors;
                    c.failed += mine.failed;
                    c.bad_sent += mine.bad_sent;
                }
            })
        })
        .collect();
    let mut peak = 0f64;
    let mut slowest = 0f64;
    let mut unanswered = 0;
    while start.elapsed() < duration {
        if let Some(pid) = pid {
            peak = peak.max(sys::rss_mib(pid));
        }
        let asked = Instant::now();
        match tokio::time::timeout(Duration::from_secs(2), get_json(&target.host, "/health", API_KEY)).await {
            Ok(Some(_)) => slowest = slowest.max(asked.elapsed().as_secs_f64() * 1000.0),
            _ => unanswered += 1,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let mut out = counts.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default();
    out.elapsed = start.elapsed();
    out.peak_rss_mib = peak.max(pid.map_or(0.0, sys::rss_mib));
    out.slowest_health_ms = slowest;
    out.health_unanswered = unanswered;
    out
}
