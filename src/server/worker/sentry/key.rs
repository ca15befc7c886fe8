//! The grouping key of §6.5: the fingerprint (with `{{ default }}` standing for the default key),
//! else exception types and significant frames, else the normalised message template.

use super::exceptions::{crashing_function, frames_in, frames_of, is_synthetic};
use super::fields::{string, values_ref};
use super::limits;
use crate::server::worker::text::normalise;
use serde_json::{Map, Value};

/// Frames considered per exception for grouping: those nearest the raise.
const GROUPING_FRAMES: usize = 15;

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

pub(super) fn is_default_var(s: &str) -> bool {
    s.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).is_some_and(|inner| inner.trim() == "default")
}

pub(super) fn default_key(ev: &Map<String, Value>, exceptions: &[Value]) -> String {
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
pub(super) fn significant_frame_tokens<'a>(frames: impl DoubleEndedIterator<Item = &'a Value> + Clone) -> Vec<String> {
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
pub(super) fn file_token(path: &str) -> String {
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
