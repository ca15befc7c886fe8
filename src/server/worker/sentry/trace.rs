//! The readable stack trace stored as `errors.stack_trace`, and a frame's short location.

use super::exceptions::{exception_line, frames_of};
use super::fields::string;
use super::limits::{self, push_capped, truncate_owned};
use serde_json::Value;

/// `file:line:col` (or module) and the function of a frame.
pub(super) fn frame_location(f: &Value) -> String {
    let place = string(f.get("filename")).or_else(|| string(f.get("abs_path"))).or_else(|| string(f.get("module")));
    let function = string(f.get("function")).unwrap_or_else(|| "?".into());
    match place {
        Some(p) => format!("{p} in {function}"),
        None => function,
    }
}

/// A readable stack trace, newest call last, one block per exception (oldest first); it stops at
/// its limit, saying so.
pub(super) fn stack_trace(exceptions: &[Value]) -> Option<String> {
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
