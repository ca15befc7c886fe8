//! `bench`: the load generator behind `make bench`. It drives running faultline servers through
//! the Sentry envelope endpoint with realistic sentry-python-style events and prints (and writes
//! as JSON) what it measured: accepted and processed events per second with the CPU each part
//! used, ingest latency at a fixed rate, time until an event is visible in the REST API, list
//! read latency over a seeded project of a million errors, sign-in latency under concurrent
//! attempts and ingest beside it, the time from an event to its alert at a local webhook (with
//! ten alert rules on the project through the load phases), overload (twice the connections, with
//! compression bombs and garbage: answers, memory, health, stored and lost, recovery), server
//! memory (optionally over a long soak), and the generator's own ceiling against a trivial sink. Given several servers it
//! instead spreads the load over them, SIGKILLs one mid-run and checks every accepted event is
//! stored exactly once.
//!
//! Usage: bench --url URL[,URL…] --pid PID[,PID…] [--seconds 60] [--database-url URL]
//!              [--soak-seconds 0] [--soak-rate 2000] [--overload-seconds 300] [--out file.json]
//!        bench --faults-server BIN --database-url URL --redis-url URL [--out file.json]
//!              (the fault phase: starts BIN itself behind fault proxies; see `faults`)

mod alerts;
mod events;
mod faults;
mod http;
mod load;
mod reads;
mod seed;
mod signin;
mod sys;

use events::{MEDIUM, SMALL, Target};
use http::get_json;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The REST key every benchmark server is started with.
pub const API_KEY: &str = "test-api-key";
/// Concurrent connections of the closed-loop phases.
const CONNECTIONS: usize = 64;

struct Args {
    urls: Vec<String>,
    pids: Vec<u32>,
    seconds: u64,
    database_url: Option<String>,
    soak_seconds: u64,
    soak_rate: u64,
    /// Length of the overload phase (`--overload-seconds`, default 300).
    overload_seconds: u64,
    out: Option<String>,
    /// The phases to run (`--phases small,reads`); all when absent.
    phases: Option<Vec<String>>,
}

impl Args {
    fn wants(&self, phase: &str) -> bool {
        self.phases.as_ref().is_none_or(|p| p.iter().any(|x| x == phase))
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn parse_args() -> Args {
    let list = |name: &str| -> Vec<String> {
        arg(name).map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
    };
    let mut urls: Vec<String> =
        list("--url").iter().map(|u| u.trim_start_matches("http://").trim_end_matches('/').to_owned()).collect();
    if urls.is_empty() {
        urls.push("127.0.0.1:3400".into());
    }
    Args {
        urls,
        pids: list("--pid").iter().filter_map(|p| p.parse().ok()).collect(),
        seconds: arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(60),
        database_url: arg("--database-url"),
        soak_seconds: arg("--soak-seconds").and_then(|s| s.parse().ok()).unwrap_or(0),
        soak_rate: arg("--soak-rate").and_then(|s| s.parse().ok()).unwrap_or(2000),
        overload_seconds: arg("--overload-seconds").and_then(|s| s.parse().ok()).unwrap_or(300),
        out: arg("--out"),
        phases: arg("--phases").map(|p| p.split(',').map(str::to_owned).collect()),
    }
}

/// The printed table and the JSON document, filled phase by phase.
#[derive(Default)]
struct Report {
    rows: Vec<(String, String)>,
    json: serde_json::Map<String, Value>,
}

impl Report {
    fn row(&mut self, k: impl Into<String>, v: impl Into<String>) {
        self.rows.push((k.into(), v.into()));
    }

    fn finish(self, out: Option<&str>) {
        let width = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(10);
        println!("\nfaultline benchmark");
        for (k, v) in &self.rows {
            println!("  {k:<width$}  {v}");
        }
        if let Some(out) = out {
            let doc = Value::Object(self.json);
            match std::fs::write(out, serde_json::to_string_pretty(&doc).unwrap_or_default()) {
                Ok(()) => println!("\nwritten to {out}"),
                Err(e) => eprintln!("bench: cannot write {out}: {e}"),
            }
        }
    }
}

/// The `p` quantile (0–1) of `samples`, in any order; NaN when there are none.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Waits until the stream is empty on the first server that answers (every accepted entry stored
/// and acknowledged); answers when.
async fn wait_drained(addrs: &[String], limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for addr in addrs {
            if let Some(h) = get_json(addr, "/health", API_KEY).await {
                if h["queue"]["pending"].as_u64() == Some(0) {
                    return Some(Instant::now());
                }
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn stored_total(addr: &str) -> i64 {
    get_json(addr, "/api/stats", API_KEY).await.and_then(|s| s["total"].as_i64()).unwrap_or(0)
}

/// The envelope target of the servers' default project, and the project's id.
async fn default_target(addr: &str) -> Option<(Target, i64)> {
    let projects = get_json(addr, "/api/projects", API_KEY).await?;
    let dsn = projects["projects"][0]["dsn"].as_str()?.to_owned();
    let key = dsn.split("://").nth(1)?.split('@').next()?.to_owned();
    let project: i64 = dsn.rsplit('/').next()?.parse().ok()?;
    let target = Target {
        host: addr.to_owned(),
        path: format!("/api/{project}/envelope/"),
        auth: format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"),
    };
    Some((target, project))
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    if let Some(server_bin) = arg("--faults-server") {
        let mut report = Report::default();
        let redis_url = arg("--redis-url").unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let Some(database_url) = args.database_url.as_deref() else {
            eprintln!("bench: --faults-server needs --database-url");
            std::process::exit(2);
        };
        let fault_args = faults::FaultArgs { server_bin: &server_bin, database_url, redis_url: &redis_url };
        faults::run(fault_args, &mut report).await;
        machine_rows(&mut report, 1);
        report.finish(args.out.as_deref());
        return;
    }
    let addr = args.urls[0].clone();
    let Some((target, project)) = default_target(&addr).await else {
        eprintln!("bench: no faultline answers at {addr} with the API key {API_KEY}");
        std::process::exit(1);
    };
    let mut report = Report::default();
    if args.urls.len() > 1 {
        load::scale_out(
            &args.urls,
            &args.pids,
            &target,
            project,
            args.seconds,
            args.database_url.as_deref(),
            &mut report,
        )
        .await;
        machine_rows(&mut report, args.urls.len());
        report.finish(args.out.as_deref());
        return;
    }

    println!("preparing payloads…");
    let small = Arc::new(events::prepare(&target, 4000, 300, SMALL, false));
    let medium = Arc::new(events::prepare(&target, 1000, 300, MEDIUM, false));
    let idle_rss = args.pids.first().map(|p| sys::rss_mib(*p));

    // Memory sampler during the load phases.
    let peak = Arc::new(std::sync::Mutex::new(0f64));
    let sampling = Arc::new(AtomicBool::new(true));
    if let Some(&pid) = args.pids.first() {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let r = sys::rss_mib(pid);
                if let Ok(mut p) = peak.lock()
                    && r > *p
                {
                    *p = r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    // Ten alert rules (FAULTLINE_BENCH_ALERT_RULES=0: none) on the project through the load
    // phases, all to a local webhook receiver: their evaluation is part of what is measured.
    let arrivals = alerts::Arrivals::default();
    let want_rules = std::env::var("FAULTLINE_BENCH_ALERT_RULES").map_or(true, |v| v != "0");
    let mut rules = 0;
    if let (true, Ok(token)) = (want_rules, std::env::var("FAULTLINE_ADMIN_TOKEN")) {
        match alerts::receiver(&arrivals).await {
            Ok(hook) => match alerts::add_rules(&addr, &token, project, &hook).await {
                Ok(n) => rules = n,
                Err(e) => eprintln!("bench: could not add alert rules: {e}"),
            },
            Err(e) => eprintln!("bench: could not start the webhook receiver: {e}"),
        }
    }
    report.row("alert rules on the project (plus its default email rule)", rules.to_string());
    report.json.insert("alert_rules".into(), json!(rules));

    let mut stored_before = stored_total(&addr).await;
    // For the bytes each stored event takes.
    let db = match args.database_url.as_deref() {
        Some(url) => sqlx::PgPool::connect(url).await.ok(),
        None => None,
    };
    for (name, size, reqs) in [("small", SMALL, small.clone()), ("medium", MEDIUM, medium.clone())] {
        if !args.wants(name) {
            continue;
        }
        let bytes_before = match &db {
            Some(db) => reads::errors_bytes(db).await.ok(),
            None => None,
        };
        println!("{name}: closed loop, {CONNECTIONS} connections, {} s…", args.seconds);
        let cpu0 = sys::cpu_snapshot(&args.pids);
        let run =
            load::closed_loop(&args.urls, reqs.clone(), CONNECTIONS, Duration::from_secs(args.seconds), None).await;
        let cpu_load = sys::cpu_between(&cpu0, &sys::cpu_snapshot(&args.pids));
        let accepted_rate = run.ok as f64 / run.elapsed.as_secs_f64();
        let start = Instant::now() - run.elapsed;
        let done = wait_drained(&args.urls, Duration::from_secs(900)).await;
        let cpu_all = sys::cpu_between(&cpu0, &sys::cpu_snapshot(&args.pids));
        let processed_rate = done.map(|d| run.ok as f64 / (d - start).as_secs_f64());
        let stored_after = stored_total(&addr).await;
        let request_bytes = reqs.iter().map(Vec::len).sum::<usize>() / reqs.len();
        report.row(
            format!("{name}: event size / request size"),
            format!("{} B JSON / {request_bytes} B (half gzip)", events::event_bytes(size)),
        );
        report.row(format!("{name}: accepted/s (closed loop)"), format!("{accepted_rate:.0}"));
        report.row(format!("{name}: statuses"), run.statuses());
        report.row(
            format!("{name}: processed/s (first send → all stored)"),
            processed_rate.map_or("did not finish in 15 min".into(), |r| format!("{r:.0}")),
        );
        report.row(format!("{name}: stored / accepted"), format!("{} / {}", stored_after - stored_before, run.ok));
        let bytes_after = match &db {
            Some(db) => reads::errors_bytes(db).await.ok(),
            None => None,
        };
        let bytes_per_event = match (bytes_before, bytes_after) {
            (Some(b), Some(a)) if stored_after > stored_before => {
                Some((a - b) as f64 / (stored_after - stored_before) as f64)
            }
            _ => None,
        };
        if let Some(b) = bytes_per_event {
            report.row(
                format!("{name}: bytes stored per event"),
                format!("{b:.0} (the errors' table, TOAST and indexes, after compression)"),
            );
        }
        report.row(format!("{name}: CPU while sending (% of a core)"), sys::describe(&cpu_load));
        report.row(format!("{name}: CPU send → all stored"), sys::describe(&cpu_all));
        report.json.insert(
            name.into(),
            json!({"event_bytes": events::event_bytes(size), "request_bytes": request_bytes,
                   "seconds": run.elapsed.as_secs_f64(), "accepted_per_s": accepted_rate, "accepted": run.ok,
                   "status_429": run.throttled, "status_other": run.other, "failed": run.failed,
                   "processed_per_s": processed_rate, "stored": stored_after - stored_before,
                   "bytes_per_event": bytes_per_event,
                   "cpu_percent_while_sending": cpu_load, "cpu_percent_until_stored": cpu_all}),
        );
        stored_before = stored_after;
    }

    report.row(
        "alerts delivered to the receiver during the load phases",
        arrivals.count.load(Ordering::Relaxed).to_string(),
    );
    if args.wants("alerts") && rules > 0 {
        alerts::latency(&addr, &arrivals, &mut report).await;
    }
    if args.wants("latency") {
        latency(&addr, &small, &mut report).await;
    }
    if args.wants("visible") {
        visible(&addr, &target, &mut report).await;
    }
    if let Some(db_url) = args.database_url.as_deref()
        && args.wants("reads")
    {
        reads::run(&addr, db_url, &mut report).await;
    }

    if args.wants("signin") {
        signin::run(&args.urls, &small, args.seconds.min(30), &mut report).await;
    }
    if args.wants("overload") {
        overload(&args, &target, &mut report).await;
    }

    if args.soak_seconds > 0
        && let Some(&pid) = args.pids.first()
    {
        println!("soak: {}/s for {} s, sampling memory…", args.soak_rate, args.soak_seconds);
        load::soak(&addr, small.clone(), pid, args.soak_rate, Duration::from_secs(args.soak_seconds), &mut report)
            .await;
    }

    sampling.store(false, Ordering::Relaxed);
    let peak_rss = peak.lock().map(|p| *p).unwrap_or(f64::NAN);
    if let Some(idle) = idle_rss {
        report.row("server memory idle / peak under load", format!("{idle:.0} MiB / {peak_rss:.0} MiB"));
        report.json.insert("memory_mib".into(), json!({"idle": idle, "peak": peak_rss}));
    }

    if !args.wants("ceiling") {
        machine_rows(&mut report, 1);
        report.finish(args.out.as_deref());
        return;
    }
    println!("load generator ceiling against a trivial local sink…");
    if let Ok(sink_addr) = http::sink().await {
        let run = load::closed_loop(&[sink_addr], small.clone(), CONNECTIONS, Duration::from_secs(5), None).await;
        let rate = run.ok as f64 / run.elapsed.as_secs_f64();
        report.row("load generator ceiling (trivial sink)", format!("{rate:.0} req/s"));
        report.json.insert("generator_ceiling_per_s".into(), json!(rate));
    }
    machine_rows(&mut report, 1);
    report.finish(args.out.as_deref());
}

/// Overload: twice the closed loop's connections of medium events at full speed (well past what
/// the worker stores) for `--overload-seconds`, mixed with compression bombs and garbage; then
/// how long the server takes to store the backlog.
async fn overload(args: &Args, target: &Target, report: &mut Report) {
    let seconds = args.overload_seconds.max(10);
    println!("overload: {} connections of medium events with bombs and garbage for {seconds} s…", CONNECTIONS * 2);
    let addr = &args.urls[0];
    let before = stored_total(addr).await;
    let good = Arc::new(events::prepare(target, 1000, 300, MEDIUM, false));
    let run =
        load::overload(target, args.pids.first().copied(), good, CONNECTIONS * 2, Duration::from_secs(seconds)).await;
    let ended = Instant::now();
    let drained = wait_drained(&args.urls, Duration::from_secs(900)).await;
    let stored = stored_total(addr).await - before;
    let lost = run.accepted as i64 - stored;
    let recovery = drained.map(|d| (d - ended).as_secs_f64());
    report.row(
        "overload: answers",
        format!(
            "200: {}, 429: {}, 503: {}, 4xx (bombs, garbage): {}, 5xx other: {}, failed: {} ({} bad requests sent)",
            run.accepted, run.throttled, run.overloaded, run.refused, run.errors, run.failed, run.bad_sent
        ),
    );
    report.row(
        "overload: accepted/s, stored / lost",
        format!("{:.0}, {stored} / {}", run.accepted as f64 / run.elapsed.as_secs_f64(), lost.max(0)),
    );
    report.row(
        "overload: peak memory, slowest /health",
        format!(
            "{:.0} MiB, {:.0} ms ({} unanswered within 2 s)",
            run.peak_rss_mib, run.slowest_health_ms, run.health_unanswered
        ),
    );
    report.row(
        "overload: backlog stored after the load",
        recovery.map_or("not within 15 min".into(), |r| format!("{r:.1} s")),
    );
    report.json.insert(
        "overload".into(),
        json!({"seconds": run.elapsed.as_secs_f64(), "accepted": run.accepted, "status_429": run.throttled,
               "status_503": run.overloaded, "status_4xx": run.refused, "status_5xx": run.errors, "failed": run.failed,
               "bad_sent": run.bad_sent, "stored": stored, "lost": lost.max(0), "peak_rss_mib": run.peak_rss_mib,
               "slowest_health_ms": run.slowest_health_ms, "health_unanswered": run.health_unanswered,
               "recovery_seconds": recovery}),
    );
}

/// Ingest latency at a fixed open-loop rate of 1,000 small events per second.
async fn latency(addr: &str, small: &Arc<Vec<Vec<u8>>>, report: &mut Report) {
    println!("latency: open loop at 1000/s for 10 s…");
    let lat = load::open_loop(addr, small.clone(), 1000, Duration::from_secs(10)).await;
    report.row(
        "ingest latency at 1000/s, p50 / p99",
        format!("{:.2} ms / {:.2} ms", percentile(&lat, 0.5), percentile(&lat, 0.99)),
    );
    report.json.insert(
        "latency_1000_per_s".into(),
        json!({"p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99), "samples": lat.len()}),
    );
}

/// Time from sending an event to its being listed by the REST API, at 100 events per second.
async fn visible(addr: &str, target: &Target, report: &mut Report) {
    println!("time to visible: 100 events/s for 20 s, polling GET /api/errors…");
    let (ttv, missing) = load::time_to_visible(addr, target, 100, Duration::from_secs(20)).await;
    report.row(
        "time to visible at 100/s, p50 / p95",
        format!(
            "{:.0} ms / {:.0} ms ({} events, {missing} not seen)",
            percentile(&ttv, 0.5),
            percentile(&ttv, 0.95),
            ttv.len()
        ),
    );
    report.json.insert(
        "time_to_visible_100_per_s".into(),
        json!({"p50_ms": percentile(&ttv, 0.5), "p95_ms": percentile(&ttv, 0.95), "samples": ttv.len(), "not_seen": missing}),
    );
}

fn machine_rows(report: &mut Report, servers: usize) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let note = format!("{cores} cores; generator, {servers} server(s), PostgreSQL and Redis on the same machine");
    report.row("machine", note.clone());
    report.json.insert("machine".into(), json!({"cores": cores, "servers": servers, "note": note}));
}
