//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or, with
//! `FAULTLINE_LOG_FORMAT=json`, one JSON object per line for log shippers; and the span that
//! gives every request's log lines its request id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// `{"timestamp", "level", "target", "fields": {"message", …}, "span": {…}, "spans": […]}`.
    Json,
}

impl LogFormat {
    /// `FAULTLINE_LOG_FORMAT`: `json`, else text.
    pub fn from_env() -> Self {
        Self::parse(std::env::var("FAULTLINE_LOG_FORMAT").ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some(f) if f.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Installs the subscriber once (with `log` records forwarded to it); later calls (tests) are
/// no-ops.
pub fn init() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = subscriber(LogFormat::from_env(), std::io::stderr).try_init();
}

/// The subscriber for `format`, writing to `writer`.
fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => Box::new(fmt.with_target(false).finish()),
        LogFormat::Json => Box::new(fmt.json().with_current_span(true).with_span_list(true).finish()),
    }
}

/// Runs the request inside a `request` span carrying its id (the client's `X-Request-Id` when it
/// is a plain token of at most 64 characters, else a new one) and answers the id in
/// `X-Request-Id`. No path or query goes into the span: some carry keys or one-time tokens.
pub async fn request_span(req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(new_request_id);
    let span = tracing::info_span!("request", request.id = %id, method = %req.method());
    let mut res = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// A new request id, 32 hex digits: this process's random prefix and a counter. As unique as a
/// random id across processes, and cheaper per request.
fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // The low 64 bits of a v4 UUID are random but for two variant bits.
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u128() as u64);
    format!("{prefix:016x}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_level_target_message_fields_and_span() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(subscriber(LogFormat::Json, buffer.clone()), || {
            let span = tracing::info_span!("batch", batch.id = "1700000000000-0");
            let _entered = span.enter();
            tracing::warn!(entries = 3, "batch aborted in a conflict");
            tracing::info!("second line");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{out}");
        let first = &lines[0];
        assert_eq!(first["level"], "WARN");
        assert!(first["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{first}");
        assert_eq!(first["target"], "faultline::server::telemetry::tests");
        assert_eq!(first["fields"]["message"], "batch aborted in a conflict");
        assert_eq!(first["fields"]["entries"], 3);
        assert_eq!(first["span"]["name"], "batch");
        assert_eq!(first["span"]["batch.id"], "1700000000000-0");
    }

    #[test]
    fn the_log_format_is_text_unless_json_is_asked_for() {
        assert_eq!(LogFormat::parse(Some(" JSON ")), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("text")), LogFormat::Text);
        assert_eq!(LogFormat::parse(None), LogFormat::Text);
    }
}
