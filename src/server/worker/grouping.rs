//! Grouping of REST-API errors: the fingerprint, title and culprit an error's issue gets.
//!
//! An explicit `fingerprint` is used as it is. Otherwise the fingerprint is the SHA-256 (hex) of
//! `"api" ␟ level ␟ source ␟ normalised message ␟ normalised first stack frame`, where
//! normalising replaces UUIDs, hex ids and numbers with placeholders, so "order 1234 failed"
//! and "order 5678 failed" group together. The `api` prefix keeps these keys apart from the
//! keys other grouping rules build.

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

fn first_line(s: &str) -> &str {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
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

/// Replaces the parts of a text that vary between occurrences of one error: UUIDs → `<uuid>`,
/// `0x…` → `<hex>`, hex runs of 8+ characters with a digit → `<hex>`, numbers → `<num>`.
pub fn normalise(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let at_word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_word_start && b[i].is_ascii_hexdigit() {
            if let Some(len) = uuid_len(&b[i..]) {
                out.push_str("<uuid>");
                i += len;
                continue;
            }
            let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let ends_word = b.get(i + run).is_none_or(|c| !c.is_ascii_alphanumeric());
            if run >= 8 && ends_word && b[i..i + run].iter().any(u8::is_ascii_digit) {
                out.push_str("<hex>");
                i += run;
                continue;
            }
        }
        if at_word_start && b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            let run = b[i + 2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if run > 0 {
                out.push_str("<hex>");
                i += 2 + run;
                continue;
            }
        }
        if b[i].is_ascii_digit() {
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_digit() || (b[j] == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_digit)))
            {
                j += 1;
            }
            out.push_str("<num>");
            i = j;
            continue;
        }
        // Copy one whole UTF-8 character.
        let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Length of a UUID (8-4-4-4-12 hex) at the start of `b`, if there is one.
fn uuid_len(b: &[u8]) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (n, len) in GROUPS.iter().enumerate() {
        if b.len() < i + len || !b[i..i + len].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        i += len;
        if n < 4 {
            if b.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
    }
    b.get(i).is_none_or(|c| !c.is_ascii_alphanumeric()).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_replaces_numbers_hex_and_uuids() {
        assert_eq!(normalise("order 1234 failed after 3.5s"), "order <num> failed after <num>s");
        assert_eq!(normalise("user 0b8c6f1e-9a2d-4e7f-8a1b-2c3d4e5f6071 not found"), "user <uuid> not found");
        assert_eq!(normalise("at 0x7ffdeadbeef in deadbeef12"), "at <hex> in <hex>");
        assert_eq!(normalise("commit 3f2a1c9b4d is bad"), "commit <hex> is bad");
        assert_eq!(normalise("café №5"), "café №<num>");
        assert_eq!(normalise("decade feedback"), "decade feedback");
    }

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
