//! The payloads: sentry-python-style error events in two sizes, framed as envelopes (half of them
//! gzip-compressed) and prepared as complete HTTP requests, so sending costs the generator little.

use crate::http::request;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;

/// Where and how events are sent: the envelope path and the `X-Sentry-Auth` header.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub path: String,
    pub auth: String,
}

/// A deterministic pseudo-random generator (xorshift), so runs send the same events.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The shape of one size class.
#[derive(Clone, Copy)]
pub struct Size {
    /// Frames per stack trace, inclusive range.
    pub frames: (usize, usize),
    /// Source lines before and after each frame's line.
    pub context: usize,
    /// Local variables per frame (beyond the three every frame has).
    pub vars: usize,
    pub breadcrumbs: usize,
}

/// About 3 KB of JSON: 8–9 frames with a line of context either side and three variables, 3
/// breadcrumbs.
pub const SMALL: Size = Size { frames: (8, 9), context: 1, vars: 0, breadcrumbs: 3 };
/// About 20 KB of JSON: 20–30 frames with three lines of context either side and seven
/// variables, 20 breadcrumbs.
pub const MEDIUM: Size = Size { frames: (20, 30), context: 3, vars: 4, breadcrumbs: 20 };

/// A sentry-python-style error event of `group`: frames with context lines and variables,
/// breadcrumbs, tags, user, request and contexts, timestamped `timestamp` (Unix seconds).
pub fn event(rng: &mut Rng, group: u64, size: Size, timestamp: f64) -> Value {
    let n = size.frames.0 + rng.below((size.frames.1 - size.frames.0 + 1) as u64) as usize;
    let frames: Vec<Value> = (0..n)
        .map(|i| {
            let module = (group + i as u64) % 40;
            let mut vars = serde_json::Map::new();
            vars.insert("order".into(), json!(format!("<Order id={}>", rng.below(100_000))));
            vars.insert("step".into(), json!(i));
            vars.insert("retries".into(), json!(rng.below(5)));
            for v in 0..size.vars {
                vars.insert(
                    format!("local_{v}"),
                    json!(format!("{{'sku': 'SKU-{}', 'qty': {}, 'price': '{}.{:02}'}}", rng.below(90_000), rng.below(9), rng.below(500), rng.below(100))),
                );
            }
            json!({
                "filename": format!("shop/module{module}.py"),
                "abs_path": format!("/srv/app/shop/module{module}.py"),
                "module": format!("shop.module{module}"),
                "function": format!("handler_{group}_{i}"),
                "lineno": 10 + i * 7,
                "context_line": format!("    result = process(order, step={i})"),
                "pre_context": &["def handler(order):", "    log.debug('start')", "    order.validate()"][3 - size.context..],
                "post_context": &["    return result", "", "def other():"][..size.context],
                "in_app": i % 3 != 0,
                "vars": vars,
            })
        })
        .collect();
    let breadcrumbs: Vec<Value> = (0..size.breadcrumbs)
        .map(|i| {
            json!({"timestamp": timestamp - (size.breadcrumbs - i) as f64 * 0.05, "category": "http", "type": "http",
                   "level": "info", "data": {"method": "GET", "url": format!("https://shop.example/api/items/{}", rng.below(10_000)),
                   "status_code": 200, "reason": "OK"}})
        })
        .collect();
    json!({
        "timestamp": timestamp,
        "platform": "python",
        "level": "error",
        "server_name": "web-1",
        "release": "shop@4.2.0",
        "environment": "production",
        "exception": {"values": [{
            "type": format!("Error{}", group % 25),
            "value": format!("order {} failed in step {}", rng.below(1_000_000), group),
            "module": "shop.errors",
            "mechanism": {"type": "generic", "handled": true},
            "stacktrace": {"frames": frames},
        }]},
        "breadcrumbs": {"values": breadcrumbs},
        "tags": {"region": "eu-west", "customer_tier": "gold"},
        "user": {"id": format!("user-{}", rng.below(5000)), "ip_address": "10.0.0.1"},
        "request": {"method": "POST", "url": "https://shop.example/api/checkout",
                    "headers": {"User-Agent": "Mozilla/5.0", "Content-Type": "application/json"}},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"},
                     "trace": {"trace_id": format!("{:032x}", rng.next()), "span_id": format!("{:016x}", rng.next())}},
        "modules": {"django": "5.1.2", "requests": "2.32.3", "sentry-sdk": "2.75.0"},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    })
}

/// A placeholder event id in an envelope header, replaced per send where ids are tracked.
pub const ID_PLACEHOLDER: &str = "00000000000000000000000000000000";

/// An envelope body (optionally gzip-compressed) for one event; with `tracked` the header carries
/// the placeholder event id.
pub fn envelope_body(event: &Value, gzip: bool, tracked: bool) -> Vec<u8> {
    let payload = serde_json::to_vec(event).unwrap_or_default();
    let header = if tracked { format!("{{\"event_id\":\"{ID_PLACEHOLDER}\"}}") } else { "{}".to_owned() };
    let mut body = format!("{header}\n{{\"type\":\"event\",\"length\":{}}}\n", payload.len()).into_bytes();
    body.extend_from_slice(&payload);
    body.push(b'\n');
    if !gzip {
        return body;
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = enc.write_all(&body);
    enc.finish().unwrap_or_default()
}

/// One complete envelope request for `event`.
pub fn envelope_request(target: &Target, event: &Value, gzip: bool, tracked: bool) -> Vec<u8> {
    let body = envelope_body(event, gzip, tracked);
    let mut headers = vec![("x-sentry-auth", target.auth.as_str()), ("content-type", "application/x-sentry-envelope")];
    if gzip {
        headers.push(("content-encoding", "gzip"));
    }
    request("POST", &target.path, &target.host, &headers, &body)
}

/// Prepared requests of one size: `count` events over `groups` groups, every other one gzipped
/// (none when `tracked`, whose placeholder id is rewritten per send).
pub fn prepare(target: &Target, count: usize, groups: u64, size: Size, tracked: bool) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    (0..count)
        .map(|i| {
            let group = rng.below(groups);
            let ev = event(&mut rng, group, size, now);
            envelope_request(target, &ev, !tracked && i % 2 == 0, tracked)
        })
        .collect()
}

/// Average uncompressed event JSON size of a size class, in bytes.
pub fn event_bytes(size: Size) -> usize {
    let mut rng = Rng(7);
    let n = 50;
    (0..n).map(|g| serde_json::to_vec(&event(&mut rng, g, size, 0.0)).map_or(0, |v| v.len())).sum::<usize>()
        / n as usize
}
