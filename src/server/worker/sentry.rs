//! Sentry events → faultline errors: lenient normalisation of every shape SDKs send, the readable
//! stack trace, the issue title and culprit, and the grouping key of the protocol notes (§6.5).
//!
//! Nothing here rejects an event: a field of an unexpected shape is ignored or repaired. Every
//! step costs time and memory in proportion to the event's size (a test proves it for
//! adversarial shapes): texts built from many parts stop at their limit, a thread's stack is
//! given to at most one exception, and the default grouping key is built once.

use super::grouping::normalise as normalise_numbers;
use super::limits::{self, push_capped, truncate_owned};
use crate::model::{Level, Source};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// Frames considered per exception for grouping: those nearest the raise.
const GROUPING_FRAMES: usize = 15;

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
    let timestamp = timestamp(ev.get("timestamp")).filter(|t| plausible(*t, received_at)).unwrap_or(received_at);
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

/// A client clock more than a minute ahead, or an event older than 30 days, is not believed (as
/// in Sentry): such events are stored at the time they were received.
fn plausible(t: DateTime<Utc>, received_at: DateTime<Utc>) -> bool {
    t <= received_at + chrono::Duration::minutes(1) && t >= received_at - chrono::Duration::days(30)
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

/// `{"values": [...]}`, a bare list, or one bare object → a list.
fn values(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Object(mut o)) => match o.remove("values") {
            Some(Value::Array(a)) => a,
            Some(_) => Vec::new(),
            None if o.is_empty() => Vec::new(),
            None => vec![Value::Object(o)],
        },
        _ => Vec::new(),
    }
}

/// Like `values`, borrowing: `{"values": [...]}`, a bare list, or one bare object.
fn values_ref(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => match o.get("values") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => Vec::new(),
            None if o.is_empty() => Vec::new(),
            None => vec![v.unwrap_or(&Value::Null)],
        },
        _ => Vec::new(),
    }
}

/// A string, or a number or boolean rendered as one; empty strings count as absent.
fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    limits::truncate(s, max).to_owned()
}

fn first_line(s: &str) -> &str {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

fn level(v: Option<&Value>) -> Level {
    match v {
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "fatal" | "critical" => Level::Fatal,
            "warning" | "warn" => Level::Warning,
            "info" | "log" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => Level::Error,
        },
        Some(Value::Number(n)) => match n.as_f64().unwrap_or(40.0) as i64 {
            ..=10 => Level::Debug,
            11..=20 => Level::Info,
            21..=30 => Level::Warning,
            31..=40 => Level::Error,
            _ => Level::Fatal,
        },
        _ => Level::Error,
    }
}

/// Seconds since the epoch (integer or float), RFC 3339, or ISO 8601 without a zone (UTC).
fn timestamp(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            if !secs.is_finite() || !(0.0..=32_503_680_000.0).contains(&secs) {
                return None;
            }
            let micros = (secs * 1_000_000.0).round() as i64;
            Utc.timestamp_micros(micros).single()
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(t.and_utc());
                }
            }
            s.parse::<f64>().ok().and_then(|f| timestamp(Some(&json!(f))))
        }
        _ => None,
    }
}

/// Browser JavaScript (and other client SDKs) → frontend; server SDKs → backend.
fn source(platform: &str, sdk_name: &str) -> Source {
    let client_sdk =
        ["browser", "react", "vue", "angular", "svelte", "ember", "cocoa", "android", "react-native", "flutter"]
            .iter()
            .any(|k| sdk_name.contains(k));
    if platform == "javascript" && !sdk_name.contains("node") || client_sdk {
        Source::Frontend
    } else {
        Source::Backend
    }
}

/// The exceptions (the event's `exception`), oldest first, each with its frames list normalised
/// to an array. An exception without frames takes the stack of the thread it names; the last one
/// (the exception raised) also of the crashed or current thread. Each thread's stack goes to at
/// most one exception, so the result is never larger than the event.
fn exceptions(exception: Option<Value>, ev: &Map<String, Value>) -> Vec<Value> {
    let mut exceptions: Vec<Value> = values(exception).into_iter().filter(Value::is_object).collect();
    exceptions.drain(..exceptions.len().saturating_sub(limits::EXCEPTIONS));
    for e in &mut exceptions {
        if let Some(Value::Array(frames)) = e.pointer_mut("/stacktrace/frames") {
            trim_frames(frames);
        }
    }
    if exceptions.iter().all(|e| frames_of(e).next().is_some()) {
        return exceptions;
    }
    let threads = values_ref(ev.get("threads"));
    let mut used = vec![false; threads.len()];
    // Thread id → the first thread with a stack under it, so matching costs one lookup.
    let mut by_thread_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (t, thread) in threads.iter().enumerate() {
        if let Some(id) = thread.get("id").filter(|id| !id.is_null())
            && thread.get("stacktrace").is_some()
        {
            by_thread_id.entry(id.to_string()).or_insert(t);
        }
    }
    let last = exceptions.len().saturating_sub(1);
    for (i, e) in exceptions.iter_mut().enumerate() {
        if frames_of(e).next().is_some() {
            continue;
        }
        let free = |t: usize| !used[t] && threads[t].get("stacktrace").is_some();
        let by_id = e
            .get("thread_id")
            .filter(|id| !id.is_null())
            .and_then(|id| by_thread_id.get(&id.to_string()).copied())
            .filter(|&t| free(t));
        let flag =
            |name: &str| (0..threads.len()).find(|&t| free(t) && threads[t].get(name) == Some(&Value::Bool(true)));
        let thread = by_id.or_else(|| if i == last { flag("crashed").or_else(|| flag("current")) } else { None });
        if let (Some(t), Some(obj)) = (thread, e.as_object_mut())
            && let Some(st) = threads[t].get("stacktrace")
        {
            used[t] = true;
            obj.insert("stacktrace".into(), trimmed_copy(st));
        }
    }
    exceptions
}

/// Drops the middle of a stack trace longer than `limits::FRAMES`.
fn trim_frames(frames: &mut Vec<Value>) {
    if frames.len() > limits::FRAMES {
        let tail = limits::FRAMES - limits::FRAMES_HEAD;
        frames.drain(limits::FRAMES_HEAD..frames.len() - tail);
    }
}

/// A copy of a thread's `stacktrace` with at most `limits::FRAMES` frames (copying only those).
fn trimmed_copy(stacktrace: &Value) -> Value {
    let Some(obj) = stacktrace.as_object() else {
        return stacktrace.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let copy = match (k.as_str(), v) {
            ("frames", Value::Array(frames)) if frames.len() > limits::FRAMES => {
                let tail = limits::FRAMES - limits::FRAMES_HEAD;
                let kept = frames[..limits::FRAMES_HEAD].iter().chain(&frames[frames.len() - tail..]);
                Value::Array(kept.cloned().collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), copy);
    }
    Value::Object(out)
}

/// The frames (objects only) of an exception's stack trace, without collecting them.
fn frames_of(e: &Value) -> impl DoubleEndedIterator<Item = &Value> + Clone {
    e.get("stacktrace").map(frames_in).into_iter().flatten()
}

/// The frames (objects only) of a `stacktrace` value.
fn frames_in(stacktrace: &Value) -> impl DoubleEndedIterator<Item = &Value> + Clone {
    stacktrace.get("frames").and_then(Value::as_array).into_iter().flatten().filter(|f| f.is_object())
}

fn is_synthetic(e: &Value) -> bool {
    e.pointer("/mechanism/synthetic") == Some(&Value::Bool(true))
}

fn crashing_function(e: &Value) -> Option<String> {
    frames_of(e).next_back().and_then(|f| string(f.get("function")))
}

/// `Type: value`, or whichever of the two exists.
fn exception_line(e: &Value) -> String {
    let ty = string(e.get("type"));
    let value = string(e.get("value")).or_else(|| e.get("value").filter(|v| !v.is_null()).map(Value::to_string));
    match (ty, value) {
        (Some(t), Some(v)) => format!("{t}: {v}"),
        (Some(t), None) => t,
        (None, Some(v)) => v,
        (None, None) => "Error".into(),
    }
}

/// The display text of a message event: `formatted`, else the template with its params, else
/// the plain `message` string.
fn message_text(ev: &Map<String, Value>) -> Option<String> {
    let log = ev.get("logentry").or_else(|| ev.get("message").filter(|m| m.is_object()));
    if let Some(log) = log {
        if let Some(f) = string(log.get("formatted")) {
            return Some(f);
        }
        if let Some(template) = string(log.get("message")) {
            return Some(fill_params(&template, log.get("params")));
        }
    }
    string(ev.get("message"))
}

/// A message parameter as text: a string as it is, anything else as JSON.
fn text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// Fills `%s`-style params from a list, or `{name}` params from an object, in one pass over the
/// template: the text stops growing at the message limit, however often a param is used.
fn fill_params(template: &str, params: Option<&Value>) -> String {
    let cap = limits::MESSAGE * 4;
    let template = limits::truncate(template, limits::MESSAGE);
    let mut out = String::with_capacity(template.len().min(cap));
    match params {
        Some(Value::Array(list)) => {
            let mut rest = template;
            let mut args = list.iter();
            while let Some(at) = rest.find('%') {
                if !push_capped(&mut out, &rest[..at], cap) {
                    return out;
                }
                let spec = rest[at + 1..].chars().next();
                match spec {
                    Some('%') => out.push('%'),
                    Some(c) if c.is_ascii_alphabetic() => match args.next() {
                        Some(v) => {
                            if !push_capped(&mut out, &text(v), cap) {
                                return out;
                            }
                        }
                        None => return template.to_owned(),
                    },
                    _ => {
                        out.push('%');
                        rest = &rest[at + 1..];
                        continue;
                    }
                }
                rest = &rest[at + 1 + spec.map_or(0, char::len_utf8)..];
            }
            push_capped(&mut out, rest, cap);
            out
        }
        Some(Value::Object(map)) => {
            let mut rest = template;
            while let Some(open) = rest.find('{') {
                if !push_capped(&mut out, &rest[..open], cap) {
                    return out;
                }
                let after = &rest[open + 1..];
                // `{name}`: the name runs to the next `}` and holds no other `{`.
                let name = after.find(['{', '}']).filter(|&end| after.as_bytes()[end] == b'}').map(|end| &after[..end]);
                match name.and_then(|n| map.get(n).map(|v| (n, v))) {
                    Some((n, v)) => {
                        if !push_capped(&mut out, &text(v), cap) {
                            return out;
                        }
                        rest = &after[n.len() + 1..];
                    }
                    None => {
                        out.push('{');
                        rest = after;
                    }
                }
            }
            push_capped(&mut out, rest, cap);
            out
        }
        _ => template.to_owned(),
    }
}

/// Tags as an object of strings: pairs or an object in; the first occurrence of a key wins.
fn tags(v: Option<&Value>) -> Value {
    let mut out = Map::new();
    let mut add = |k: &Value, v: &Value| {
        let (Some(k), Some(v)) = (string(Some(k)), string(Some(v))) else {
            return;
        };
        let k = truncate(&k, limits::TAG).replace(' ', "-");
        let v = truncate(first_line(&v), limits::TAG);
        out.entry(k).or_insert(Value::String(v));
    };
    match v {
        Some(Value::Object(map)) => {
            for (k, v) in map.iter().take(limits::TAGS) {
                add(&Value::String(k.clone()), v);
            }
        }
        Some(Value::Array(pairs)) => {
            for p in pairs.iter().take(limits::TAGS) {
                if let Some([k, v]) = p.as_array().map(Vec::as_slice) {
                    add(k, v);
                }
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// `file:line:col` (or module) and the function of a frame.
fn frame_location(f: &Value) -> String {
    let place = string(f.get("filename")).or_else(|| string(f.get("abs_path"))).or_else(|| string(f.get("module")));
    let function = string(f.get("function")).unwrap_or_else(|| "?".into());
    match place {
        Some(p) => format!("{p} in {function}"),
        None => function,
    }
}

/// A readable stack trace, newest call last, one block per exception (oldest first); it stops at
/// its limit, saying so.
fn stack_trace(exceptions: &[Value]) -> Option<String> {
    use std::fmt::Write;
    if exceptions.is_empty() {
        return None;
    }
    let cap = limits::STACK_TRACE;
    let mut out = String::new();
    let mut line = String::new();
    'all: for (i, e) in exceptions.iter().enumerate() {
        if i > 0 {
            out.push_str("\nDuring handling of the above exception, another exception occurred:\n\n");
        }
        if frames_of(e).next().is_some() {
            out.push_str("Traceback (most recent call last):\n");
        }
        for f in frames_of(e) {
            line.clear();
            let file =
                string(f.get("filename")).or_else(|| string(f.get("abs_path"))).or_else(|| string(f.get("module")));
            let function = string(f.get("function")).unwrap_or_else(|| "?".into());
            let place = file.unwrap_or_else(|| "<unknown>".into());
            let _ = write!(line, "  at {function} ({place}");
            if let Some(lineno) = f.get("lineno").and_then(Value::as_u64) {
                let _ = write!(line, ":{lineno}");
                if let Some(col) = f.get("colno").and_then(Value::as_u64) {
                    let _ = write!(line, ":{col}");
                }
            }
            line.push_str(")\n");
            if let Some(code) = string(f.get("context_line")) {
                let _ = writeln!(line, "      {}", limits::truncate(&code, limits::CODE_LINE));
            }
            if !push_capped(&mut out, &line, cap) {
                break 'all;
            }
        }
        if !push_capped(&mut out, &exception_line(e), cap) || !push_capped(&mut out, "\n", cap) {
            break;
        }
    }
    let end = out.trim_end().len();
    out.truncate(end);
    if out.len() >= cap {
        out = truncate_owned(out, cap - 20);
        out.push_str("\n… (trace truncated)");
    }
    Some(out)
}

/// The grouping key of §6.5: fingerprint, else exception types and significant frames, else the
/// normalised message template. The default key is built once however often `{{ default }}`
/// appears; the fingerprint's first parts count (see `limits`), and a long part enters the key as
/// its SHA-256, so the key stays small whatever the event holds.
pub fn grouping_key(ev: &Map<String, Value>, exceptions: &[Value]) -> String {
    let fingerprint: Vec<String> = match ev.get("fingerprint") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
                    _ => n.to_string(),
                }),
                Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
                _ => None,
            })
            .take(limits::FINGERPRINT_PARTS)
            .collect(),
        _ => Vec::new(),
    };
    if fingerprint.is_empty() {
        return default_key(ev, exceptions);
    }
    let bounded = |part: &str| {
        if part.len() > limits::KEY_PART {
            format!("sha256:{}", crate::server::sha256_hex(part))
        } else {
            part.to_owned()
        }
    };
    let mut default = None;
    let mut key = String::from("fp");
    for part in &fingerprint {
        key.push('\x1f');
        if is_default_var(part) {
            key.push_str(default.get_or_insert_with(|| bounded(&default_key(ev, exceptions))));
        } else {
            key.push_str(&bounded(part));
        }
    }
    key
}

fn is_default_var(s: &str) -> bool {
    s.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).is_some_and(|inner| inner.trim() == "default")
}

fn default_key(ev: &Map<String, Value>, exceptions: &[Value]) -> String {
    if !exceptions.is_empty() {
        let mut key = String::from("ex");
        for e in exceptions {
            key.push('\x1f');
            let kind = if is_synthetic(e) { crashing_function(e) } else { string(e.get("type")) };
            key.push_str(kind.as_deref().unwrap_or("Error"));
            let frame_tokens = significant_frame_tokens(frames_of(e));
            if frame_tokens.is_empty() {
                key.push('\x1f');
                key.push_str(&normalise(&string(e.get("value")).unwrap_or_default()));
            }
            for token in frame_tokens {
                key.push('\x1f');
                key.push_str(&token);
            }
        }
        return key;
    }
    let template = ev
        .get("logentry")
        .and_then(|l| string(l.get("message")).or_else(|| string(l.get("formatted"))))
        .or_else(|| match ev.get("message") {
            Some(Value::Object(m)) => string(m.get("message")).or_else(|| string(m.get("formatted"))),
            other => string(other),
        });
    if let Some(t) = template {
        return format!("msg\x1f{}", normalise(&t));
    }
    // No message: a top-level stack trace or the crashed/current thread.
    let threads = values_ref(ev.get("threads"));
    let stack = ev.get("stacktrace").or_else(|| {
        threads
            .iter()
            .find(|t| t.get("crashed") == Some(&Value::Bool(true)))
            .or_else(|| threads.iter().find(|t| t.get("current") == Some(&Value::Bool(true))))
            .and_then(|t| t.get("stacktrace"))
    });
    if let Some(st) = stack {
        let tokens = significant_frame_tokens(frames_in(st));
        if !tokens.is_empty() {
            return format!("ex\x1f<thread>\x1f{}", tokens.join("\x1f"));
        }
    }
    "msg\x1f<no message>".into()
}

/// The tokens of the frames nearest the raise: the in-app ones when there are any.
fn significant_frame_tokens<'a>(frames: impl DoubleEndedIterator<Item = &'a Value> + Clone) -> Vec<String> {
    let in_app = |f: &&Value| f.get("in_app") == Some(&Value::Bool(true));
    let any_in_app = frames.clone().any(|f| in_app(&f));
    let mut chosen: Vec<&Value> = frames.rev().filter(|f| !any_in_app || in_app(f)).take(GROUPING_FRAMES).collect();
    chosen.reverse();
    chosen
        .iter()
        .filter_map(|f| {
            let place = string(f.get("module"))
                .or_else(|| string(f.get("filename")).or_else(|| string(f.get("abs_path"))).map(|p| file_token(&p)))?;
            let function = string(f.get("function")).unwrap_or_else(|| "?".into());
            Some(format!("{place}:{function}"))
        })
        .collect()
}

/// The basename of a path or URL, without query or fragment, lowercased, with build hashes
/// (runs of 6+ hex digits) replaced by `<h>`.
fn file_token(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path).to_lowercase();
    let mut out = String::with_capacity(base.len());
    let chars: Vec<char> = base.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run >= 6 {
            out.push_str("<h>");
            i += run;
        } else {
            let n = run.max(1);
            out.extend(&chars[i..i + n]);
            i += n;
        }
    }
    out
}

/// §6.5 step 4: the first two non-empty lines, trimmed, with variable parts replaced (read only
/// as far as the template limit needs).
pub fn normalise(s: &str) -> String {
    let s = limits::truncate(s, limits::TEMPLATE * 4);
    let text: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect();
    let text = text.join("\n");
    let mut out = String::with_capacity(text.len());
    for word in split_keep(&text) {
        out.push_str(&replace_word(word));
    }
    let out = normalise_numbers(&quote_strings(&out));
    truncate(&out, limits::TEMPLATE)
}

/// Splits on whitespace, keeping the whitespace as separate pieces.
fn split_keep(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|was| was != space) {
            parts.push(&s[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < s.len() {
        parts.push(&s[start..]);
    }
    parts
}

/// Whole-word replacements: emails, URLs, IP addresses, ISO dates.
fn replace_word(word: &str) -> String {
    let trimmed = word.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '[' | ']' | '<' | '>'));
    if trimmed.is_empty() || word.trim().is_empty() {
        return word.to_owned();
    }
    let replacement = if trimmed.contains("://") {
        Some("<url>")
    } else if trimmed.contains('@') && trimmed.contains('.') && !trimmed.starts_with('@') && !trimmed.ends_with('@') {
        Some("<email>")
    } else if is_ip(trimmed) {
        Some("<ip>")
    } else if is_iso_date(trimmed) {
        Some("<date>")
    } else {
        None
    };
    match replacement {
        Some(r) => word.replacen(trimmed, r, 1),
        None => word.to_owned(),
    }
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
        || s.rsplit_once(':')
            .is_some_and(|(ip, port)| ip.parse::<std::net::Ipv4Addr>().is_ok() && port.parse::<u16>().is_ok())
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// Text in single or double quotes → `<str>`.
fn quote_strings(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        // A quote that opens a word (not an apostrophe inside one) and is closed later.
        let opens = (c == '\'' || c == '"') && !s[..i].chars().next_back().is_some_and(char::is_alphanumeric);
        if opens && let Some(end) = s[i + 1..].find(c) {
            out.push_str("<str>");
            let stop = i + 1 + end;
            while chars.peek().is_some_and(|&(j, _)| j <= stop) {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
