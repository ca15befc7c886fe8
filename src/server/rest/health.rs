//! `GET /health`: whether PostgreSQL and Redis answer, the queue's backlog, and how many entries
//! this process's workers have handled.

use crate::server::db;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// How long each check may take before its service counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn get(State(state): State<AppState>) -> Response {
    let (pg, depth) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, db::ping(&state.db)),
        tokio::time::timeout(CHECK_TIMEOUT, state.queue.depth()),
    );
    let pg_ok = matches!(pg, Ok(Ok(())));
    let depth = match depth {
        Ok(Ok(n)) => Some(n),
        _ => None,
    };
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let healthy = pg_ok && depth.is_some();
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "postgres": word(pg_ok),
        "redis": word(depth.is_some()),
        "queue": {"pending": depth},
        "worker": {"processed": state.processed.load(std::sync::atomic::Ordering::Relaxed)},
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
