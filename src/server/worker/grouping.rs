//! Grouping of REST-API errors: the fingerprint, title and culprit an error's issue gets.
//!
//! An explicit `fingerprint` is used as it is. Otherwise the fingerprint is the SHA-256 (hex) of
//! `"api" ␟ level ␟ source ␟ normalised message ␟ normalised first stack frame`, where
//! normalising replaces UUIDs, hex ids and numbers with placeholders, so "order 1234 failed"
//! and "order 5678 failed" group together. The `api` prefix keeps these keys apart from the
//! keys other grouping rules build.

use super::text::{first_line, normalise_numbers as normalise, truncate};
use crate::model::{Level, Source};
use crate::server::sha256_hex;

/// The grouping fingerprint of an error.
pub fn fingerprint(
    explicit: Option<&str>,
    level: Level,
    source: Source,
    message: &str,
    stack_trace: Option<&str>,
) -> String {
    if let Some(fp) = explicit.filter(|f| !f.trim().is_empty()) {
        return fp.to_owned();
    }
    let frame = stack_trace.and_then(|s| first_frame(s, message)).map(normalise).unwrap_or_default();
    let key =
        format!("api\x1f{}\x1f{}\x1f{}\x1f{}", level.as_str(), source.as_str(), normalise(first_line(message)), frame);
    sha256_hex(&key)
}

/// The issue title: the message's first non-empty line, at most 200 characters.
pub fn title(message: &str) -> String {
    truncate(first_line(message).trim(), 200)
}

/// Where the error happened: the first stack frame, else the URL, else empty.
pub fn culprit(message: &str, stack_trace: Option<&str>, url: Option<&str>) -> String {
    let frame = stack_trace.and_then(|s| first_frame(s, message));
    truncate(frame.or(url).unwrap_or_default(), 200)
}

/// The first line of a stack trace that is a frame: not blank, not the message repeated (as
/// JavaScript stacks start), not a header such as Python's "Traceback (most recent call last):".
fn first_frame<'a>(stack: &'a str, message: &str) -> Option<&'a str> {
    let message = first_line(message);
    stack
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Traceback") && !l.ends_with(message) && *l != "stack backtrace:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differing_only_in_ids_share_a_fingerprint() {
        let a = fingerprint(None, Level::Error, Source::Api, "order 1234 failed", None);
        let b = fingerprint(None, Level::Error, Source::Api, "order 98 failed", None);
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn level_source_message_and_frame_each_split_groups() {
        let base = fingerprint(None, Level::Error, Source::Api, "boom", Some("at f (a.js:1:2)"));
        assert_ne!(base, fingerprint(None, Level::Warning, Source::Api, "boom", Some("at f (a.js:1:2)")));
        assert_ne!(base, fingerprint(None, Level::Error, Source::Backend, "boom", Some("at f (a.js:1:2)")));
        assert_ne!(base, fingerprint(None, Level::Error, Source::Api, "bang", Some("at f (a.js:1:2)")));
        assert_ne!(base, fingerprint(None, Level::Error, Source::Api, "boom", Some("at g (b.js:1:2)")));
        // Line numbers of the frame do not split a group.
        assert_eq!(base, fingerprint(None, Level::Error, Source::Api, "boom", Some("at f (a.js:7:9)")));
    }

    #[test]
    fn explicit_fingerprint_wins() {
        assert_eq!(fingerprint(Some("checkout"), Level::Error, Source::Api, "x", None), "checkout");
        assert_ne!(fingerprint(Some("  "), Level::Error, Source::Api, "x", None), "  ");
    }

    #[test]
    fn first_frame_skips_the_message_and_headers() {
        let js = "TypeError: x is undefined\n    at render (app.js:10:5)\n    at main (app.js:2:1)";
        assert_eq!(culprit("TypeError: x is undefined", Some(js), None), "at render (app.js:10:5)");
        let py = "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nKeyError: 'x'";
        assert_eq!(culprit("KeyError: 'x'", Some(py), None), "File \"app.py\", line 3, in <module>");
        assert_eq!(culprit("m", None, Some("https://x/y")), "https://x/y");
    }
}
