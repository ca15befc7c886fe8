//! Message events: the display text of `logentry`/`message`, with `%s` and `{name}` parameters
//! filled in one pass that stops at the message limit.

use super::fields::string;
use super::limits::{self, push_capped};
use serde_json::{Map, Value};

/// The display text of a message event: `formatted`, else the template with its params, else
/// the plain `message` string.
pub(super) fn message_text(ev: &Map<String, Value>) -> Option<String> {
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
pub(super) fn text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// Fills `%s`-style params from a list, or `{name}` params from an object, in one pass over the
/// template: the text stops growing at the message limit, however often a param is used.
pub(super) fn fill_params(template: &str, params: Option<&Value>) -> String {
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
