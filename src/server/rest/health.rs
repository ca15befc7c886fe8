//! `GET /health`: whether PostgreSQL and Redis answer, the queue's backlog and the age of its
//! oldest entry, and this process's workers (running now, expected, entries handled).
//!
//! Answers 503 when a service is down, when a process meant to run workers has none running, or
//! when the oldest entry not yet stored has waited longer than `FAULTLINE_HEALTH_MAX_QUEUE_AGE_SECS`.
//! Warns (without a 503) while this instance's spool holds entries for Redis (a full spool is a
//! problem: 503), and with every warning of `faultline doctor` (`checks` lists them all: the local
//! ones made at most 15 s ago, the public URL and SMTP relay as last checked, every ten minutes).
//!
//! `GET /health/live` only says the process answers HTTP (for liveness probes, and the doctor's
//! check of the public URL).

use crate::server::db;
use crate::server::doctor::Severity;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long each check may take before its service counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn get(State(state): State<AppState>) -> Response {
    let (pg, depth, oldest, checks) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, db::ping(&state.db)),
        tokio::time::timeout(CHECK_TIMEOUT, state.queue.depth()),
        tokio::time::timeout(CHECK_TIMEOUT, state.queue.oldest_age()),
        state.checks.for_health(&state),
    );
    let pg_ok = matches!(pg, Ok(Ok(())));
    let depth = match depth {
        Ok(Ok(n)) => Some(n),
        _ => None,
    };
    let oldest = match oldest {
        Ok(Ok(age)) => age,
        _ => None,
    };
    let expected = if state.settings.run_worker { state.settings.workers } else { 0 };
    let running = state.workers.running.load(Ordering::SeqCst);
    let mut problems = Vec::new();
    if !pg_ok {
        problems.push("postgres is unreachable".to_owned());
    }
    if depth.is_none() {
        problems.push("redis is unreachable".to_owned());
    }
    if expected > 0 && running == 0 {
        problems.push("no worker is running".to_owned());
    }
    if let Some(age) = oldest.filter(|a| *a > state.settings.health_max_queue_age) {
        problems.push(format!("the oldest queued entry has waited {} s", age.as_secs()));
    }
    if let Some(why) = state.storage.refusing() {
        problems.push(format!("ingest refuses events: the database cannot take more: {why}"));
    }
    let spool = state.spool.as_ref().map(|s| s.load());
    let mut warnings = Vec::new();
    if let Some(load) = spool.filter(|l| l.entries > 0) {
        if load.bytes >= load.max_bytes {
            problems.push("the spool is full: ingest refuses events until Redis answers".to_owned());
        } else {
            warnings.push(format!("{} entries wait in this instance's spool for Redis", load.entries));
        }
    }
    // The doctor's problems (a service down, a full disk) are answered above; its warnings join in.
    warnings.extend(checks.iter().filter(|c| c.severity == Severity::Warning).map(|c| c.message.clone()));
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let healthy = problems.is_empty();
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "postgres": word(pg_ok),
        "redis": word(depth.is_some()),
        "queue": {"pending": depth, "oldest_seconds": oldest.map(|a| a.as_secs_f64().floor() as u64)},
        "spool": spool,
        "worker": {
            "processed": state.workers.processed.load(Ordering::Relaxed),
            "running": running,
            "expected": expected,
        },
        "problems": problems,
        "warnings": warnings,
        "checks": checks,
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `GET /health/live`: the process answers HTTP; nothing else is checked.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "service": "faultline"}))
}
