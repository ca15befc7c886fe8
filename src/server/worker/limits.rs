//! The longest value faultline stores in each field of an error, and the cheap truncation that
//! enforces it. Every limit is documented in the README ("Limits"); the worker applies them to
//! REST and Sentry events alike, so no stored row can grow past them whatever an event holds.

/// `errors.message` (the exception line or the formatted log message), in characters.
pub const MESSAGE: usize = 8192;
/// `errors.stack_trace` (the readable trace text), in characters.
pub const STACK_TRACE: usize = 256 * 1024;
/// An issue's title and culprit, in characters.
pub const TITLE: usize = 255;
/// `errors.url`, in characters.
pub const URL: usize = 4096;
/// `errors.environment` and `errors.release`, in characters.
pub const SHORT: usize = 256;
/// `errors.platform`, in characters.
pub const PLATFORM: usize = 64;
/// A tag's key and its value, in characters.
pub const TAG: usize = 200;
/// One source line quoted in the stack-trace text, in characters.
pub const CODE_LINE: usize = 1024;
/// The normalised message template a message event groups by, and the grouping key kept in the
/// context for display, in characters.
pub const TEMPLATE: usize = 1024;
/// Parts of a `fingerprint` used for grouping (the rest are ignored).
pub const FINGERPRINT_PARTS: usize = 64;
/// A fingerprint part (or the default key standing in for `{{ default }}`) longer than this, in
/// bytes, enters the grouping key as its SHA-256 instead.
pub const KEY_PART: usize = 1024;
/// The time an error is stored at: its own (`sent`), unless that is more than a minute after it
/// arrived or more than 30 days before (a client clock not believed, as in Sentry; it would also
/// open a day partition far from every other), else the time it arrived.
pub fn timestamp(
    sent: Option<chrono::DateTime<chrono::Utc>>,
    received_at: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    sent.filter(|t| {
        *t <= received_at + chrono::TimeDelta::minutes(1) && *t >= received_at - chrono::TimeDelta::days(30)
    })
    .unwrap_or(received_at)
}

/// Exceptions of an event kept (the last ones: the exception raised and its nearest causes).
pub const EXCEPTIONS: usize = 64;
/// Frames kept per stack trace: the first `FRAMES_HEAD` (the entry point) and the rest from
/// the end (nearest the crash), as Sentry trims deep recursion.
pub const FRAMES: usize = 250;
pub const FRAMES_HEAD: usize = 50;
/// Breadcrumbs kept (the last ones, as SDKs keep them).
pub const BREADCRUMBS: usize = 100;
/// Tags kept (the first ones).
pub const TAGS: usize = 256;
/// The JSON of an SDK event's detail document (`errors.detail`, before compression), in bytes;
/// past it the document is trimmed (see `server::detail`).
pub const DETAIL: usize = 2 * 1024 * 1024;

/// `s` cut to at most `max` characters, on a character boundary; costs at most `max` steps.
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Like `truncate`, in place, without copying when nothing is cut.
pub fn truncate_owned(mut s: String, max: usize) -> String {
    if s.len() > max
        && let Some((at, _)) = s.char_indices().nth(max)
    {
        s.truncate(at);
    }
    s
}

/// Appends `piece` to `out` unless `out` already holds `max_bytes`; answers false once full.
/// Used where a text is built from many parts, so the text never grows past its limit.
pub fn push_capped(out: &mut String, piece: &str, max_bytes: usize) -> bool {
    let room = max_bytes.saturating_sub(out.len());
    if piece.len() <= room {
        out.push_str(piece);
        return true;
    }
    let mut cut = room;
    while !piece.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&piece[..cut]);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_keeps_them_whole() {
        assert_eq!(truncate("café au lait", 4), "café");
        assert_eq!(truncate("ab", 5), "ab");
        assert_eq!(truncate_owned("ééé".into(), 2), "éé");
        let mut out = String::from("ab");
        assert!(!push_capped(&mut out, "cdé", 4));
        assert_eq!(out, "abcd");
        assert!(!push_capped(&mut out, "x", 4));
        assert_eq!(out, "abcd");
    }
}
