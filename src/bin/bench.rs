//! `bench`: the load generator behind `make bench`. It drives a running faultline through the
//! Sentry envelope endpoint with realistic sentry-python-style events and prints (and writes as
//! JSON) what it measured: accepted and processed events per second, ingest latency at a fixed
//! rate, the server's memory, and the generator's own ceiling against a trivial local sink.
//!
//! Usage: bench --url http://127.0.0.1:3400 --pid <server pid> [--seconds 20] [--out file.json]

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const API_KEY: &str = "test-api-key";

/// One keep-alive HTTP/1.1 connection that sends prepared requests.
struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: &str) -> Self {
        Self { addr: addr.to_owned(), stream: None, buf: Vec::with_capacity(4096) }
    }

    /// Sends one request (complete bytes) and answers the status code and the body.
    async fn send(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let result = self.exchange(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let stream = self.stream.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
        stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let header_end = loop {
            if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while self.buf.len() < header_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }
}

fn request(method: &str, path: &str, host: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A deterministic pseudo-random generator (xorshift), so runs send the same events.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A sentry-python-style error event: `frames` frames with context lines and variables,
/// breadcrumbs, tags, user, request and contexts; `padding` bytes of extra vars for size.
fn event(rng: &mut Rng, group: u64, frames: usize, padding: usize) -> Value {
    let frames: Vec<Value> = (0..frames)
        .map(|i| {
            let module = format!("shop.module{}", (group + i as u64) % 40);
            json!({
                "filename": format!("shop/module{}.py", (group + i as u64) % 40),
                "abs_path": format!("/srv/app/shop/module{}.py", (group + i as u64) % 40),
                "module": module,
                "function": format!("handler_{}_{}", group, i),
                "lineno": 10 + i * 7,
                "context_line": format!("    result = process(order, step={i})"),
                "pre_context": ["def handler(order):", "    log.debug('start')", "    order.validate()"],
                "post_context": ["    return result", "", "def other():"],
                "in_app": i % 3 != 0,
                "vars": {"order": format!("<Order id={}>", rng.below(100_000)), "step": i, "retries": rng.below(5)},
            })
        })
        .collect();
    let breadcrumbs: Vec<Value> = (0..8)
        .map(|i| json!({"timestamp": "2026-11-27T10:00:00.000000Z", "category": "http", "message": format!("GET /api/items/{i}"), "level": "info"}))
        .collect();
    // No event_id: the server gives each send its own, so a prepared request sent again is a new
    // event rather than a duplicate.
    json!({
        "timestamp": chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        "platform": "python",
        "level": "error",
        "server_name": "web-1",
        "release": "shop@4.2.0",
        "environment": "production",
        "exception": {"values": [{
            "type": format!("Error{}", group % 25),
            "value": format!("order {} failed in step {}", rng.below(1_000_000), group),
            "mechanism": {"type": "generic", "handled": true},
            "stacktrace": {"frames": frames},
        }]},
        "breadcrumbs": {"values": breadcrumbs},
        "tags": {"region": "eu-west", "customer_tier": "gold"},
        "user": {"id": format!("user-{}", rng.below(5000)), "ip_address": "10.0.0.1"},
        "request": {"method": "POST", "url": "https://shop.example/api/checkout", "headers": {"User-Agent": "Mozilla/5.0"}},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"}},
        "extra": {"padding": "x".repeat(padding)},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    })
}

/// An envelope body (optionally gzip-compressed) for one event.
fn envelope_body(event: &Value, gzip: bool) -> Vec<u8> {
    let payload = serde_json::to_vec(event).unwrap_or_default();
    let mut body = format!("{{}}\n{{\"type\":\"event\",\"length\":{}}}\n", payload.len()).into_bytes();
    body.extend_from_slice(&payload);
    body.push(b'\n');
    if !gzip {
        return body;
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = enc.write_all(&body);
    enc.finish().unwrap_or_default()
}

/// Prepared requests for one size class: `count` events over `groups` groups, half gzipped.
fn prepare(
    host: &str,
    path: &str,
    auth: &str,
    count: usize,
    groups: u64,
    frames: (usize, usize),
    padding: usize,
) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|i| {
            let n = frames.0 + rng.below((frames.1 - frames.0 + 1) as u64) as usize;
            let group = rng.below(groups);
            let ev = event(&mut rng, group, n, padding);
            let gzip = i % 2 == 0;
            let body = envelope_body(&ev, gzip);
            let mut headers = vec![("x-sentry-auth", auth), ("content-type", "application/x-sentry-envelope")];
            if gzip {
                headers.push(("content-encoding", "gzip"));
            }
            request("POST", path, host, &headers, &body)
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    throttled: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

/// Closed loop: `connections` senders for `duration`; answers (accepted, elapsed, counts).
async fn closed_loop(
    addr: &str,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> (u64, Duration, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (counts, stop, next, requests, addr) =
                (counts.clone(), stop.clone(), next.clone(), requests.clone(), addr.to_owned());
            tokio::spawn(async move {
                let mut conn = Conn::new(&addr);
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % requests.len();
                    match conn.send(&requests[i]).await {
                        Ok((200, _)) => counts.ok.fetch_add(1, Ordering::Relaxed),
                        Ok((429, _)) => counts.throttled.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => counts.other.fetch_add(1, Ordering::Relaxed),
                        Err(_) => counts.failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (counts.ok.load(Ordering::Relaxed), start.elapsed(), counts)
}

/// Open loop at `rate` per second for `duration`: answers sorted latencies in milliseconds.
async fn open_loop(addr: &str, requests: Arc<Vec<Vec<u8>>>, rate: u64, duration: Duration) -> Vec<f64> {
    let total = rate * duration.as_secs();
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let pool = Arc::new(tokio::sync::Mutex::new(Vec::<Conn>::new()));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total as usize)));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let (pool, latencies, requests, addr) = (pool.clone(), latencies.clone(), requests.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.lock().await.pop().unwrap_or_else(|| Conn::new(&addr));
            let t = Instant::now();
            let ok = matches!(conn.send(&requests[i as usize % requests.len()]).await, Ok((200, _)));
            if ok {
                if let Ok(mut l) = latencies.lock() {
                    l.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                pool.lock().await.push(conn);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_by(|a, b| a.total_cmp(b));
    l
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Resident memory of a process in MiB (from /proc).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok()))
        })
        .flatten()
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// GET a JSON document with the API key.
async fn get_json(addr: &str, host: &str, path: &str) -> Option<Value> {
    let mut conn = Conn::new(addr);
    let (status, body) = conn.send(&request("GET", path, host, &[("x-api-key", API_KEY)], b"")).await.ok()?;
    (status == 200).then(|| serde_json::from_slice(&body).ok()).flatten()
}

/// Waits until the server has stored `expected` errors in all; answers when that happened.
async fn wait_stored(addr: &str, host: &str, expected: i64, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(stats) = get_json(addr, host, "/api/stats").await
            && stats["total"].as_i64().unwrap_or(0) >= expected
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A trivial HTTP sink on loopback: reads a request, answers 200 with a small body.
async fn sink() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let mut have = Vec::new();
                loop {
                    let Ok(n) = s.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    have.extend_from_slice(&buf[..n]);
                    while let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if have.len() < end + 4 + len {
                            break;
                        }
                        have.drain(..end + 4 + len);
                        let body = "{\"id\":\"0\"}";
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:3400".into());
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let pid: Option<u32> = arg("--pid").and_then(|p| p.parse().ok());
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(20);
    let out = arg("--out");
    let connections = 64;

    let Some(projects) = get_json(&addr, &addr, "/api/projects").await else {
        eprintln!("bench: no faultline answers at {url} with the API key {API_KEY}");
        std::process::exit(1);
    };
    let dsn = projects["projects"][0]["dsn"].as_str().unwrap_or_default().to_owned();
    let key = dsn.split("://").nth(1).and_then(|r| r.split('@').next()).unwrap_or_default().to_owned();
    let project = dsn.rsplit('/').next().unwrap_or("1").to_owned();
    let path = format!("/api/{project}/envelope/");
    let auth = format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0");

    println!("preparing payloads…");
    let small = Arc::new(prepare(&addr, &path, &auth, 4000, 300, (8, 14), 0));
    let medium = Arc::new(prepare(&addr, &path, &auth, 1000, 300, (20, 30), 9000));
    let raw_size = |reqs: &[Vec<u8>]| reqs.iter().map(Vec::len).sum::<usize>() / reqs.len();
    let idle_rss = pid.map(rss_mib);

    // Memory sampler during the load phases.
    let peak = Arc::new(std::sync::Mutex::new(0f64));
    let sampling = Arc::new(AtomicBool::new(true));
    if let Some(pid) = pid {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let r = rss_mib(pid);
                if let Ok(mut p) = peak.lock()
                    && r > *p
                {
                    *p = r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    let mut results = serde_json::Map::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    let base_total = get_json(&addr, &addr, "/api/stats").await.and_then(|s| s["total"].as_i64()).unwrap_or(0);
    let mut stored_so_far = base_total;
    for (name, reqs) in [("small", small.clone()), ("medium", medium.clone())] {
        println!("{name}: closed loop, {connections} connections, {seconds} s…");
        let (accepted, elapsed, counts) =
            closed_loop(&addr, reqs.clone(), connections, Duration::from_secs(seconds)).await;
        let accepted_rate = accepted as f64 / elapsed.as_secs_f64();
        let expected = stored_so_far + accepted as i64;
        let start = Instant::now() - elapsed;
        let done = wait_stored(&addr, &addr, expected, Duration::from_secs(600)).await;
        let processed_rate = done.map(|d| accepted as f64 / (d - start).as_secs_f64());
        stored_so_far =
            get_json(&addr, &addr, "/api/stats").await.and_then(|s| s["total"].as_i64()).unwrap_or(expected);
        rows.push((format!("{name}: request size (avg, mixed gzip)"), format!("{} B", raw_size(&reqs))));
        rows.push((format!("{name}: accepted/s (closed loop)"), format!("{accepted_rate:.0}")));
        rows.push((
            format!("{name}: statuses"),
            format!(
                "200: {}, 429: {}, other: {}, failed: {}",
                counts.ok.load(Ordering::Relaxed),
                counts.throttled.load(Ordering::Relaxed),
                counts.other.load(Ordering::Relaxed),
                counts.failed.load(Ordering::Relaxed)
            ),
        ));
        rows.push((
            format!("{name}: processed/s (first send → all stored)"),
            processed_rate.map_or("did not finish in 10 min".into(), |r| format!("{r:.0}")),
        ));
        results.insert(
            name.into(),
            json!({"request_bytes": raw_size(&reqs), "accepted_per_s": accepted_rate, "accepted": accepted,
                   "status_200": counts.ok.load(Ordering::Relaxed), "status_429": counts.throttled.load(Ordering::Relaxed),
                   "status_other": counts.other.load(Ordering::Relaxed), "failed": counts.failed.load(Ordering::Relaxed),
                   "processed_per_s": processed_rate}),
        );
    }

    println!("latency: open loop at 1000/s for 10 s…");
    let lat = open_loop(&addr, small.clone(), 1000, Duration::from_secs(10)).await;
    rows.push((
        "ingest latency at 1000/s, p50 / p99".into(),
        format!("{:.2} ms / {:.2} ms", percentile(&lat, 0.5), percentile(&lat, 0.99)),
    ));
    results.insert(
        "latency_1000_per_s".into(),
        json!({"p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99), "samples": lat.len()}),
    );
    sampling.store(false, Ordering::Relaxed);
    let peak_rss = peak.lock().map(|p| *p).unwrap_or(f64::NAN);
    if let (Some(idle), Some(_)) = (idle_rss, pid) {
        rows.push(("server memory idle / peak".into(), format!("{idle:.0} MiB / {peak_rss:.0} MiB")));
        results.insert("memory_mib".into(), json!({"idle": idle, "peak": peak_rss}));
    }

    println!("load generator ceiling against a trivial local sink…");
    if let Ok(sink_addr) = sink().await {
        let (n, elapsed, _) = closed_loop(&sink_addr, small.clone(), connections, Duration::from_secs(5)).await;
        let rate = n as f64 / elapsed.as_secs_f64();
        rows.push(("load generator ceiling (trivial sink)".into(), format!("{rate:.0} req/s")));
        results.insert("generator_ceiling_per_s".into(), json!(rate));
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    rows.push((
        "machine".into(),
        format!("{cores} cores; generator, server, PostgreSQL and Redis on the same machine"),
    ));
    results.insert(
        "machine".into(),
        json!({"cores": cores, "note": "load generator, server, PostgreSQL and Redis share the machine"}),
    );

    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(10);
    println!("\nfaultline benchmark");
    for (k, v) in &rows {
        println!("  {k:<width$}  {v}");
    }
    if let Some(out) = out {
        let doc = Value::Object(results);
        match std::fs::write(&out, serde_json::to_string_pretty(&doc).unwrap_or_default()) {
            Ok(()) => println!("\nwritten to {out}"),
            Err(e) => eprintln!("bench: cannot write {out}: {e}"),
        }
    }
}
