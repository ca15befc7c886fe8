//! Text normalising shared by both grouping rules: first lines, truncation, the numbers/ids
//! normaliser (REST fingerprints and Sentry templates) and the §6.5 template normaliser (emails,
//! URLs, IPs, dates, quoted strings).

use super::limits;

pub fn truncate(s: &str, max: usize) -> String {
    limits::truncate(s, max).to_owned()
}

pub fn first_line(s: &str) -> &str {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

/// Replaces the parts of a text that vary between occurrences of one error: UUIDs → `<uuid>`,
/// `0x…` → `<hex>`, hex runs of 8+ characters with a digit → `<hex>`, numbers → `<num>`.
pub fn normalise_numbers(s: &str) -> String {
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

    #[test]
    fn normalise_replaces_numbers_hex_and_uuids() {
        assert_eq!(normalise_numbers("order 1234 failed after 3.5s"), "order <num> failed after <num>s");
        assert_eq!(normalise_numbers("user 0b8c6f1e-9a2d-4e7f-8a1b-2c3d4e5f6071 not found"), "user <uuid> not found");
        assert_eq!(normalise_numbers("at 0x7ffdeadbeef in deadbeef12"), "at <hex> in <hex>");
        assert_eq!(normalise_numbers("commit 3f2a1c9b4d is bad"), "commit <hex> is bad");
        assert_eq!(normalise_numbers("café №5"), "café №<num>");
        assert_eq!(normalise_numbers("decade feedback"), "decade feedback");
    }
}
