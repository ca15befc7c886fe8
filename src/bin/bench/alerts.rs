//! The alert parts of the bench: ten rules on the benchmarked project (new issues, regressions,
//! volume with filters, all to a local webhook receiver) in place during the load phases, so
//! processed/s shows what evaluating them costs; and the time from an event being accepted to
//! its alert being delivered to that receiver.

use super::http::{Conn, request};
use super::{API_KEY, Report, percentile};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the local receiver saw: when each alert arrived (by issue title), and how many came.
#[derive(Clone, Default)]
pub struct Arrivals {
    by_title: Arc<Mutex<HashMap<String, Instant>>>,
    pub count: Arc<AtomicUsize>,
}

/// Starts a webhook receiver on loopback; answers its URL.
pub async fn receiver(arrivals: &Arrivals) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let seen = arrivals.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let at = Instant::now();
            seen.count.fetch_add(1, Ordering::Relaxed);
            if let Some(title) = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["issue"]["title"].as_str().map(str::to_owned))
                && let Ok(mut map) = seen.by_title.lock()
            {
                map.entry(title).or_insert(at);
            }
            "ok"
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Sends one JSON request with the admin token; answers the status and the JSON body.
async fn call(addr: &str, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let headers = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let mut conn = Conn::new(addr);
    match conn.send(&request(method, path, addr, &headers, &bytes)).await {
        Ok((status, answer)) => (status, serde_json::from_slice(&answer).unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

/// Ten rules of different kinds, as a busy project might have.
fn rule_bodies(channel: i64) -> Vec<Value> {
    let c = json!([channel]);
    vec![
        json!({"name": "new errors", "when": ["new_issue"], "min_level": "error", "channels": c}),
        json!({"name": "regressions in production", "when": ["regression"], "environments": ["production"], "channels": c}),
        json!({"name": "storm in eu", "when": [{"events": 500, "minutes": 5}], "environments": ["production"], "tags": {"region": "eu-west"}, "channels": c}),
        json!({"name": "release 9.9", "when": ["new_issue", "regression"], "release": "9.9.9", "channels": c}),
        json!({"name": "back from ignored", "when": ["unignored"], "channels": c}),
        json!({"name": "fatal bursts", "when": [{"events": 100, "minutes": 1}], "min_level": "fatal", "channels": c}),
        json!({"name": "gold customers", "when": ["new_issue"], "tags": {"customer_tier": "gold"}, "channels": c}),
        json!({"name": "hourly volume", "when": [{"events": 10000, "minutes": 60}], "channels": c}),
        json!({"name": "warnings back", "when": ["regression"], "min_level": "warning", "channels": c}),
        json!({"name": "staging", "when": ["new_issue"], "environments": ["staging"], "channels": c}),
    ]
}

/// Puts a webhook channel to `hook` and ten rules on `project`; answers how many rules were made.
pub async fn add_rules(addr: &str, token: &str, project: i64, hook: &str) -> Result<usize, String> {
    let (status, channel) = call(
        addr,
        token,
        "POST",
        &format!("/api/projects/{project}/channels"),
        &json!({"kind": "webhook", "name": "bench receiver", "url": hook}),
    )
    .await;
    let id = channel["id"].as_i64().ok_or(format!("channel: HTTP {status} {channel}"))?;
    let mut made = 0;
    for body in rule_bodies(id) {
        let (status, answer) = call(addr, token, "POST", &format!("/api/projects/{project}/rules"), &body).await;
        if status != 201 {
            return Err(format!("rule: HTTP {status} {answer}"));
        }
        made += 1;
    }
    Ok(made)
}

/// Time from an event being accepted (`202`) to its new-issue alert arriving at the receiver:
/// `n` REST errors of new fingerprints at 10 per second.
pub async fn latency(addr: &str, arrivals: &Arrivals, report: &mut Report) {
    let n = 100;
    println!("alert latency: {n} new issues at 10/s, each alerted to a local webhook…");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut accepted: Vec<(String, Instant)> = Vec::new();
    let mut conn = Conn::new(addr);
    let start = tokio::time::Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(start + Duration::from_millis(100) * i).await;
        let title = format!("bench alert {run} {i}");
        let body = json!({"message": title, "level": "error", "fingerprint": format!("alert-{run}-{i}")});
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let headers = [("x-api-key", API_KEY), ("content-type", "application/json")];
        if let Ok((202, _)) = conn.send(&request("POST", "/api/errors", addr, &headers, &bytes)).await {
            accepted.push((title, Instant::now()));
        }
    }
    let until = Instant::now() + Duration::from_secs(30);
    let latencies: Vec<f64> = loop {
        let got: Vec<f64> = {
            let map = arrivals.by_title.lock().map(|m| m.clone()).unwrap_or_default();
            accepted
                .iter()
                .filter_map(|(t, at)| {
                    map.get(t).map(|arrived| arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0)
                })
                .collect()
        };
        if got.len() == accepted.len() || Instant::now() >= until {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let missing = accepted.len() - latencies.len();
    report.row(
        "alert latency, accepted → delivered to a local webhook, p50 / p95",
        format!(
            "{:.0} ms / {:.0} ms ({} alerts, {missing} not delivered in 30 s)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.95),
            latencies.len()
        ),
    );
    report.json.insert(
        "alert_latency".into(),
        json!({"p50_ms": percentile(&latencies, 0.5), "p95_ms": percentile(&latencies, 0.95),
               "samples": latencies.len(), "not_delivered": missing}),
    );
}
