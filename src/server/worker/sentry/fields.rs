//! Field coercion: the lenient readers of an event's fields (lists in any of their shapes,
//! strings from numbers and booleans, levels, timestamps, the source, tags).

use super::limits;
use crate::model::{Level, Source};
use crate::server::worker::text::{first_line, truncate};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// `{"values": [...]}`, a bare list, or one bare object → a list.
pub(super) fn values(v: Option<Value>) -> Vec<Value> {
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
pub(super) fn values_ref(v: Option<&Value>) -> Vec<&Value> {
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
pub(super) fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}

pub(super) fn level(v: Option<&Value>) -> Level {
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
pub(super) fn timestamp(v: Option<&Value>) -> Option<DateTime<Utc>> {
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
pub(super) fn source(platform: &str, sdk_name: &str) -> Source {
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

/// Tags as an object of strings: pairs or an object in; the first occurrence of a key wins.
pub(super) fn tags(v: Option<&Value>) -> Value {
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
