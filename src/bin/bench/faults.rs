//! The fault phase: a release server of its own, reaching PostgreSQL and Redis through fault
//! proxies, under a steady paced load of tracked events; PostgreSQL is cut for 30 s, then Redis
//! "restarts" (every connection dropped, new ones refused for 5 s, its data kept, as a Redis with
//! persistence restarts). Prints, per fault, the answers during it and how long after it the
//! backlog was stored; overall accepted, stored and lost (by event id) and the server's memory.

use crate::events::{self, SMALL};
use crate::http::{Conn, get_json};
use crate::{API_KEY, Report, sys};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Events per second of the steady load, over `SENDERS` connections.
const RATE: u64 = 500;
const SENDERS: u64 = 8;
const PG_CUT: Duration = Duration::from_secs(30);
const REDIS_DOWN: Duration = Duration::from_secs(5);
const PORT: u16 = 3450;

/// A TCP proxy in front of a service that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cuts: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Proxy {
    async fn start(target: String) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(tokio::sync::watch::channel(0u64).0);
        let (up2, cuts2) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let (target, mut cut) = (target.clone(), cuts2.subscribe());
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    }
                });
            }
        });
        Ok(Self { port, up, cuts })
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `host:port` of a `scheme://[user@]host:port/...` URL.
fn host_port(url: &str) -> Option<String> {
    let rest = url.split("://").nth(1)?;
    let authority = rest.split('/').next()?;
    Some(authority.rsplit('@').next()?.to_owned())
}

/// One answer of the load: when it came, the event id and the status (0: no answer).
type Answer = (Instant, Uuid, u16);

/// What the fault phase needs: the server binary and the services it is put in front of.
pub struct FaultArgs<'a> {
    pub server_bin: &'a str,
    pub database_url: &'a str,
    pub redis_url: &'a str,
}

pub async fn run(args: FaultArgs<'_>, report: &mut Report) {
    let (Some(pg), Some(redis)) = (host_port(args.database_url), host_port(args.redis_url)) else {
        eprintln!("bench: cannot read host and port of the database or Redis URL");
        return;
    };
    let (Ok(pg_proxy), Ok(redis_proxy)) = (Proxy::start(pg.clone()).await, Proxy::start(redis.clone()).await) else {
        eprintln!("bench: cannot start the fault proxies");
        return;
    };
    let Ok(db) = sqlx::PgPool::connect(args.database_url).await else {
        eprintln!("bench: cannot reach {}", args.database_url);
        return;
    };
    let spool = std::env::temp_dir().join(format!("faultline-bench-spool-{}", Uuid::new_v4().simple()));
    let log = std::env::temp_dir().join("faultline-bench-faults-server.log");
    let child = std::process::Command::new(args.server_bin)
        .env("DATABASE_URL", args.database_url.replacen(&pg, &format!("127.0.0.1:{}", pg_proxy.port), 1))
        .env("REDIS_URL", args.redis_url.replacen(&redis, &format!("127.0.0.1:{}", redis_proxy.port), 1))
        .env("FAULTLINE_REDIS_PREFIX", format!("faultline-bench-faults-{}", std::process::id()))
        .env("FAULTLINE_SPOOL_DIR", &spool)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{PORT}"))
        .env("LEPTOS_SITE_ROOT", "target/site")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).map_or_else(|_| std::process::Stdio::null(), Into::into))
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("bench: cannot start {}", args.server_bin);
        return;
    };
    let addr = format!("127.0.0.1:{PORT}");
    let target = wait_ready(&addr).await;
    let Some((target, project)) = target else {
        eprintln!("bench: the fault server did not become ready; its log is {}", log.display());
        let _ = child.kill();
        return;
    };
    let pid = child.id();
    let idle = sys::rss_mib(pid);
    let requests = Arc::new(events::prepare(&target, 1000, 100, SMALL, true));
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(Mutex::new(idle));
    println!(
        "faults: {RATE} events/s; PostgreSQL cut for {} s, then Redis down for {} s…",
        PG_CUT.as_secs(),
        REDIS_DOWN.as_secs()
    );
    let senders = start_senders(&addr, &requests, &answers, &running);
    let sampler = {
        let (running, peak) = (running.clone(), peak.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                if let Ok(mut p) = peak.lock() {
                    *p = p.max(sys::rss_mib(pid));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let project = faultline::model::ProjectId::new(project);
    tokio::time::sleep(Duration::from_secs(10)).await;

    let (pg_cut, pg_back, pg_recovery) = outage(&pg_proxy, PG_CUT, &db, project, &answers).await;
    let (redis_cut, redis_back, redis_recovery) = outage(&redis_proxy, REDIS_DOWN, &db, project, &answers).await;

    running.store(false, Ordering::SeqCst);
    for s in senders {
        let _ = s.await;
    }
    let _ = sampler.await;
    let end = Instant::now();
    let all_stored = stored_by(&db, project, &answers, end).await;
    let answers = answers.lock().map(|a| a.clone()).unwrap_or_default();
    let accepted: Vec<Uuid> = answers.iter().filter(|a| a.2 == 200).map(|a| a.1).collect();
    let stored = count_stored(&db, project, &accepted).await;
    let peak = peak.lock().map(|p| *p).unwrap_or(f64::NAN);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&spool);

    let window = |from: Instant, to: Instant| {
        let (mut ok, mut other) = (0, 0);
        for a in answers.iter().filter(|a| a.0 >= from && a.0 < to) {
            if a.2 == 200 { ok += 1 } else { other += 1 }
        }
        (ok, other)
    };
    let secs = |d: Option<Duration>| d.map_or("not within 120 s".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
    let (pg_ok, pg_other) = window(pg_cut, pg_back);
    let (r_ok, r_other) = window(redis_cut, redis_back);
    report.row(
        format!("faults: PostgreSQL cut {} s — answers 200 / other", PG_CUT.as_secs()),
        format!("{pg_ok} / {pg_other}; backlog stored {} after it was back", secs(pg_recovery)),
    );
    report.row(
        format!("faults: Redis down {} s — answers 200 / other", REDIS_DOWN.as_secs()),
        format!("{r_ok} / {r_other}; spool replayed and stored {} after it was back", secs(redis_recovery)),
    );
    let other = answers.len() - accepted.len();
    let lost = accepted.len() as i64 - stored;
    report.row(
        "faults: accepted / other answers / stored / lost",
        format!(
            "{} / {other} / {stored} / {}; all stored {} after the load",
            accepted.len(),
            lost.max(0),
            secs(all_stored)
        ),
    );
    report.row("faults: server memory idle / peak", format!("{idle:.0} MiB / {peak:.0} MiB"));
    let d = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    report.json.insert(
        "faults".into(),
        json!({"rate_per_s": RATE,
               "postgres": {"cut_seconds": PG_CUT.as_secs(), "status_200": pg_ok, "status_other": pg_other,
                            "recovery_seconds": d(pg_recovery)},
               "redis": {"down_seconds": REDIS_DOWN.as_secs(), "status_200": r_ok, "status_other": r_other,
                         "recovery_seconds": d(redis_recovery)},
               "accepted": accepted.len(), "other_answers": other, "stored": stored, "lost": lost.max(0),
               "memory_mib": {"idle": idle, "peak": peak}}),
    );
}

/// Cuts `proxy` for `down`, restores it, and waits until everything accepted until then is stored,
/// then 5 s more of steady load; answers when the cut began and ended, and how long the backlog
/// took after it.
async fn outage(
    proxy: &Proxy,
    down: Duration,
    db: &sqlx::PgPool,
    project: faultline::model::ProjectId,
    answers: &Arc<Mutex<Vec<Answer>>>,
) -> (Instant, Instant, Option<Duration>) {
    let cut = Instant::now();
    proxy.cut();
    tokio::time::sleep(down).await;
    proxy.restore();
    let back = Instant::now();
    let recovery = stored_by(db, project, answers, back).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    (cut, back, recovery)
}

/// Waits (60 s at most) until the server's `/health` answers `ok`; answers its default target.
async fn wait_ready(addr: &str) -> Option<(events::Target, i64)> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if get_json(addr, "/health", API_KEY).await.is_some_and(|h| h["status"] == "ok") {
            return crate::default_target(addr).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// `SENDERS` connections, each sending its share of `RATE` per second, recording every answer.
fn start_senders(
    addr: &str,
    requests: &Arc<Vec<Vec<u8>>>,
    answers: &Arc<Mutex<Vec<Answer>>>,
    running: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let offsets = Arc::new(crate::load::placeholder_offsets(requests));
    (0..SENDERS)
        .map(|s| {
            let (requests, answers, running, offsets) =
                (requests.clone(), answers.clone(), running.clone(), offsets.clone());
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let mut conn = Conn::new(&addr);
                let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 * SENDERS / RATE));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n = s as usize;
                let mut buf = Vec::new();
                while running.load(Ordering::Relaxed) {
                    tick.tick().await;
                    n += SENDERS as usize;
                    let i = n % requests.len();
                    let id = Uuid::new_v4();
                    buf.clear();
                    buf.extend_from_slice(&requests[i]);
                    if let Some(at) = offsets[i] {
                        buf[at..at + 32].copy_from_slice(id.simple().to_string().as_bytes());
                    }
                    let status = conn.send(&buf).await.map_or(0, |(status, _)| status);
                    if let Ok(mut a) = answers.lock() {
                        a.push((Instant::now(), id, status));
                    }
                }
            })
        })
        .collect()
}

/// How long after `since` every event answered 200 before it was stored (120 s at most).
async fn stored_by(
    db: &sqlx::PgPool,
    project: faultline::model::ProjectId,
    answers: &Arc<Mutex<Vec<Answer>>>,
    since: Instant,
) -> Option<Duration> {
    let ids: Vec<Uuid> =
        answers.lock().map(|a| a.iter().filter(|a| a.2 == 200 && a.0 <= since).map(|a| a.1).collect()).ok()?;
    let deadline = since + Duration::from_secs(120);
    while Instant::now() < deadline {
        if count_stored(db, project, &ids).await >= ids.len() as i64 {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn count_stored(db: &sqlx::PgPool, project: faultline::model::ProjectId, ids: &[Uuid]) -> i64 {
    let mut n = 0;
    for chunk in ids.chunks(10_000) {
        n += crate::seed::stored_among(db, project, chunk).await.unwrap_or(0);
    }
    n
}
