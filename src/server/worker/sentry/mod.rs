//! Sentry events → faultline errors: lenient normalisation of every shape SDKs send into the
//! stored columns, context and title/culprit (here), with field coercion (`fields`), exceptions
//! and thread stacks (`exceptions`), message templates (`message`), the readable stack trace
//! (`trace`) and the grouping key of the protocol notes, §6.5 (`key`).
//!
//! Nothing here rejects an event: a field of an unexpected shape is ignored or repaired. Every
//! step costs time and memory in proportion to the event's size (a test proves it for
//! adversarial shapes): texts built from many parts stop at their limit, a thread's stack is
//! given to at most one exception, and the default grouping key is built once.

mod exceptions;
mod fields;
mod key;
mod message;
mod trace;

use super::limits::{self, truncate_owned};
use super::text::{first_line, truncate};
use crate::model::{Level, Source};
use chrono::{DateTime, Utc};
use exceptions::{crashing_function, exception_line, exceptions, frames_of, is_synthetic};
use fields::{level, source, string, tags, timestamp, values};
pub use key::grouping_key;
use message::message_text;
use serde_json::{Map, Value};
use trace::{frame_location, stack_trace};

/// What the worker stores for one Sentry event.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub stack_trace: Option<String>,
    pub context: Value,
    pub source: Source,
    pub url: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub platform: String,
    pub title: String,
    pub culprit: String,
    /// The grouping key before hashing (kept in the context as `grouping_key`).
    pub grouping_key: String,
}

/// Normalises one event (the JSON of an `event` item or a `/store/` body), moving its parts into
/// the context instead of copying them; answers also the rest of the event (see `remainder`).
pub fn normalize_owned(event: Value, received_at: DateTime<Utc>) -> (Normalized, Value) {
    let mut ev = match event {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let exceptions = exceptions(ev.remove("exception"), &ev);
    let platform = string(ev.get("platform")).unwrap_or_else(|| "other".into());
    let sdk_name = ev.get("sdk").and_then(|s| s.get("name")).and_then(Value::as_str).unwrap_or("");
    let message_text = message_text(&ev);
    let last = exceptions.last();
    let message = truncate_owned(
        match last {
            Some(e) => exception_line(e),
            None => message_text.clone().unwrap_or_else(|| "<no message>".into()),
        },
        limits::MESSAGE,
    );
    let title = truncate(
        match last {
            // A synthetic exception (JavaScript's captureMessage sends one) has no meaningful
            // type: the event's message, else the crashing function names it.
            Some(e) if is_synthetic(e) => message_text
                .clone()
                .or_else(|| crashing_function(e).filter(|f| f != "?"))
                .unwrap_or_else(|| exception_line(e)),
            Some(e) => first_line(&exception_line(e)).to_owned(),
            None => first_line(&message).to_owned(),
        }
        .trim(),
        limits::TITLE,
    );
    let culprit = string(ev.get("transaction"))
        .or_else(|| last.and_then(|e| frames_of(e).next_back().map(frame_location)))
        .unwrap_or_default();
    let grouping_key = grouping_key(&ev, &exceptions);
    let url = ev
        .get("request")
        .filter(|r| r.is_object())
        .and_then(|r| string(r.get("url")))
        .map(|u| truncate_owned(u, limits::URL));
    let source = source(&platform, sdk_name);
    let stack_trace = stack_trace(&exceptions);
    let timestamp = limits::timestamp(timestamp(ev.get("timestamp")), received_at);
    let level = level(ev.get("level"));
    let environment = string(ev.get("environment")).map(|s| truncate_owned(s, limits::SHORT));
    let release = string(ev.get("release")).map(|s| truncate_owned(s, limits::SHORT));

    let mut context = Map::new();
    let keep = |context: &mut Map<String, Value>, key: &str, value: Option<Value>| {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            context.insert(key.to_owned(), v);
        }
    };
    keep(&mut context, "tags", Some(tags(ev.get("tags"))).filter(|t| t.as_object().is_some_and(|o| !o.is_empty())));
    keep(&mut context, "user", ev.remove("user").filter(Value::is_object));
    let mut breadcrumbs = values(ev.remove("breadcrumbs"));
    breadcrumbs.drain(..breadcrumbs.len().saturating_sub(limits::BREADCRUMBS));
    keep(&mut context, "breadcrumbs", Some(breadcrumbs).filter(|b| !b.is_empty()).map(Value::Array));
    keep(&mut context, "contexts", ev.remove("contexts").filter(Value::is_object));
    keep(&mut context, "request", ev.remove("request").filter(Value::is_object));
    keep(&mut context, "extra", ev.remove("extra").filter(|e| e.as_object().is_some_and(|o| !o.is_empty())));
    keep(&mut context, "sdk", ev.remove("sdk").filter(Value::is_object));
    if !exceptions.is_empty() {
        // Moved in (`json!` would copy every exception).
        let mut values = Map::new();
        values.insert("values".into(), Value::Array(exceptions));
        context.insert("exception".into(), Value::Object(values));
    }
    let log = match ev.remove("logentry") {
        Some(log) => Some(log),
        None => ev.remove("message").filter(Value::is_object),
    };
    keep(&mut context, "logentry", log.filter(Value::is_object));
    for key in ["transaction", "server_name", "logger", "dist", "modules"] {
        keep(&mut context, key, ev.remove(key));
    }
    context.insert("grouping_key".into(), Value::String(truncate(&grouping_key, limits::TEMPLATE)));

    let normalized = Normalized {
        timestamp,
        level,
        stack_trace,
        context: Value::Object(context),
        source,
        url,
        environment,
        release,
        message,
        platform: truncate_owned(platform, limits::PLATFORM),
        title: if title.is_empty() { "<no message>".into() } else { title },
        culprit: truncate(&culprit, limits::TITLE),
        grouping_key,
    };
    (normalized, remainder(Value::Object(ev)))
}

/// What of an event is not already stored in the error's columns or `context`: kept as the
/// error's `payload` (threads, debug_meta, _meta, fields of future SDKs…), so nothing the SDK
/// sent is lost and nothing is stored twice.
pub fn remainder(event: Value) -> Value {
    const STORED: [&str; 22] = [
        "event_id",
        "timestamp",
        "level",
        "platform",
        "environment",
        "release",
        "message",
        "logentry",
        "exception",
        "breadcrumbs",
        "tags",
        "user",
        "contexts",
        "request",
        "extra",
        "sdk",
        "transaction",
        "server_name",
        "logger",
        "dist",
        "modules",
        "received",
    ];
    match event {
        Value::Object(mut map) => {
            for key in STORED {
                map.remove(key);
            }
            Value::Object(map)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::worker::text::normalise;
    use serde_json::json;

    fn normalize(event: &Value, received_at: DateTime<Utc>) -> Normalized {
        normalize_owned(event.clone(), received_at).0
    }

    fn key(ev: Value) -> String {
        let mut ev = ev.as_object().cloned().unwrap();
        let exceptions = exceptions(ev.remove("exception"), &ev);
        grouping_key(&ev, &exceptions)
    }

    #[test]
    fn worked_example_of_the_protocol_notes() {
        let frames = json!([
            {"module": "django.core.handlers.base", "function": "_get_response", "in_app": false},
            {"module": "shop.views", "function": "checkout", "in_app": true},
            {"module": "shop.cart", "function": "price_of", "in_app": true}
        ]);
        let ev = json!({"exception": {"values": [{"type": "KeyError", "value": "'sku'", "stacktrace": {"frames": frames}}]}});
        assert_eq!(key(ev.clone()), "ex\x1fKeyError\x1fshop.views:checkout\x1fshop.cart:price_of");
        let mut other_value = ev.clone();
        other_value["exception"]["values"][0]["value"] = json!("'qty'");
        assert_eq!(key(other_value), key(ev.clone()));
        let mut fp = ev.clone();
        fp["fingerprint"] = json!(["{{default}}", "eu"]);
        assert_eq!(key(fp), format!("fp\x1f{}\x1feu", key(ev)));
        assert_eq!(key(json!({"message": "order 1234 failed after 3.5s"})), "msg\x1forder <num> failed after <num>s");
    }

    #[test]
    fn fingerprint_variants_and_coercion() {
        let a = key(json!({"message": "a", "fingerprint": ["{{ default }}", "x"]}));
        let b = key(json!({"message": "a", "fingerprint": ["{{default}}", "x"]}));
        assert_eq!(a, b);
        assert_ne!(a, key(json!({"message": "a"})));
        assert_eq!(key(json!({"message": "x", "fingerprint": ["a", 3.0, true, null]})), "fp\x1fa\x1f3\x1fTrue");
        assert_eq!(key(json!({"message": "x", "fingerprint": []})), "msg\x1fx");
        assert_eq!(
            key(json!({"fingerprint": ["a", "b"], "message": "one"})),
            key(json!({"fingerprint": ["a", "b"], "message": "two"}))
        );
    }

    #[test]
    fn browser_file_tokens_drop_build_hashes() {
        let ev = |file: &str| json!({"exception": [{"type": "TypeError", "stacktrace": {"frames": [{"filename": file, "function": "render"}]}}]});
        assert_eq!(key(ev("https://cdn.example/static/main.3f2a1c9b.js?v=2")), "ex\x1fTypeError\x1fmain.<h>.js:render");
        assert_eq!(key(ev("https://cdn.example/static/main.3f2a1c9b.js")), key(ev("/x/MAIN.ffee0012.js")));
    }

    #[test]
    fn normalise_replaces_variable_parts() {
        assert_eq!(
            normalise(
                "user bob@example.com from 10.0.0.1 at 2025-03-04T10:15:00Z called https://x.io/a?b=1 with 'abc' id 0b8c6f1e-9a2d-4e7f-8a1b-2c3d4e5f6071"
            ),
            "user <email> from <ip> at <date> called <url> with <str> id <uuid>"
        );
        assert_eq!(normalise("line one\n\n  line two  \nline three"), "line one\nline two");
    }

    #[test]
    fn every_shape_variant_normalises_like_the_canonical_one() {
        let now = Utc::now();
        let canonical = normalize(
            &json!({"exception": {"values": [{"type": "E", "value": "v"}]}, "breadcrumbs": {"values": [{"message": "b"}]},
                    "tags": {"a": "1"}, "timestamp": "2025-03-04T10:15:00Z", "level": "error"}),
            now,
        );
        let variant = normalize(
            &json!({"exception": [{"type": "E", "value": "v"}], "breadcrumbs": [{"message": "b"}],
                    "tags": [["a", 1], ["a", "2"]], "timestamp": 1741083300.0}),
            now,
        );
        assert_eq!(canonical, variant);
        let single = normalize(&json!({"exception": {"type": "E", "value": "v"}}), now);
        assert_eq!(single.message, "E: v");
        assert_eq!(normalize(&json!({"timestamp": "2025-03-04T10:15:00"}), now).timestamp, canonical.timestamp);
        for (raw, level) in [
            (json!("critical"), Level::Fatal),
            (json!(40), Level::Error),
            (json!("warning"), Level::Warning),
            (json!(null), Level::Error),
            (json!(20), Level::Info),
        ] {
            assert_eq!(normalize(&json!({"level": raw}), now).level, level, "{raw}");
        }
        assert_eq!(
            normalize(&json!({"tags": {"beta": true, "n": 3}}), now).context["tags"],
            json!({"beta": "True", "n": "3"})
        );
    }

    #[test]
    fn the_payload_keeps_only_what_context_and_columns_do_not() {
        let ev = json!({"message": "m", "tags": {"a": "b"}, "threads": {"values": []}, "debug_meta": {"images": []}, "x_future": 1});
        assert_eq!(remainder(ev), json!({"threads": {"values": []}, "debug_meta": {"images": []}, "x_future": 1}));
    }

    #[test]
    fn messages_titles_and_traces_are_readable() {
        let now = Utc::now();
        let ev = json!({
            "platform": "python",
            "exception": {"values": [{"type": "ValueError", "value": "bad\nsecond line", "stacktrace": {"frames": [
                {"filename": "app.py", "function": "main", "lineno": 3},
                {"filename": "lib.py", "function": "parse", "lineno": 10, "colno": 4, "context_line": "raise ValueError()"}
            ]}}]}
        });
        let n = normalize(&ev, now);
        assert_eq!(n.title, "ValueError: bad");
        assert_eq!(n.culprit, "lib.py in parse");
        assert_eq!(n.source, Source::Backend);
        let trace = n.stack_trace.unwrap();
        assert!(trace.find("main (app.py:3)").unwrap() < trace.find("parse (lib.py:10:4)").unwrap(), "{trace}");
        assert!(trace.ends_with("ValueError: bad\nsecond line"));
        let log = normalize(
            &json!({"logentry": {"message": "user %s not found (%d%%)", "params": ["42", 7]}, "platform": "javascript"}),
            now,
        );
        assert_eq!(log.message, "user 42 not found (7%)");
        assert_eq!(log.source, Source::Frontend);
        assert_eq!(log.grouping_key, "msg\x1fuser %s not found (%d%%)");
        assert_eq!(
            normalize(&json!({"message": {"message": "hi {name}", "params": {"name": "bo"}}}), now).message,
            "hi bo"
        );
        assert_eq!(normalize(&json!(["not", "an", "object"]), now).title, "<no message>");
        let js_message = json!({"message": "export slow", "exception": {"values": [{"value": "export slow",
            "mechanism": {"type": "generic", "synthetic": true}, "stacktrace": {"frames": [{"function": "?"}]}}]}});
        assert_eq!(normalize(&js_message, now).title, "export slow");
        let signal = json!({"exception": {"values": [{"type": "SIGSEGV", "mechanism": {"synthetic": true},
            "stacktrace": {"frames": [{"function": "main"}, {"function": "render_frame"}]}}]}});
        assert_eq!(normalize(&signal, now).title, "render_frame");
    }
}
