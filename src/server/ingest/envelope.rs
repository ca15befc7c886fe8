//! The Sentry envelope parser (pure): a header line, then items of a header line and a payload.
//!
//! ```text
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d…@sentry.example/42"}
//! {"type":"event","length":41,"content_type":"application/json"}
//! {"message":"hello world","level":"error"}
//! {"type":"attachment","length":7,"filename":"a.txt"}
//! ab
//! cd
//! e
//! ```
//! A payload with `length` is exactly that many bytes and must be followed by `\n` or the end;
//! a payload without `length` runs to the next `\n` or the end. The final newline is optional.

use serde_json::{Map, Value};

/// One item: its header object and its payload bytes (borrowed from the body).
#[derive(Debug)]
pub struct Item<'a> {
    pub header: Map<String, Value>,
    pub payload: &'a [u8],
}

impl Item<'_> {
    /// The item's `type` (empty when missing or not a string).
    pub fn kind(&self) -> &str {
        self.header.get("type").and_then(Value::as_str).unwrap_or("")
    }
}

#[derive(Debug)]
pub struct Envelope<'a> {
    pub header: Map<String, Value>,
    pub items: Vec<Item<'a>>,
}

/// Every way an envelope's framing can be wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is empty")]
    Empty,
    #[error("the envelope header is not a JSON object: {0}")]
    BadHeader(String),
    #[error("item {index}: the header is not a JSON object: {reason}")]
    BadItemHeader { index: usize, reason: String },
    #[error("item {index}: the header has no string `type`")]
    MissingType { index: usize },
    #[error("item {index}: `length` is not a non-negative integer")]
    BadLength { index: usize },
    #[error("item {index}: `length` {length} runs past the end of the body")]
    Truncated { index: usize, length: u64 },
    #[error("item {index}: the payload is followed by a byte other than a newline")]
    MissingNewline { index: usize },
}

/// The line starting at `pos` (without its `\n`) and the position after the `\n` (or the end).
fn line(body: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = &body[pos..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(n) => (&rest[..n], pos + n + 1),
        None => (rest, body.len()),
    }
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not an object".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a whole envelope.
pub fn parse(body: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    if body.is_empty() {
        return Err(EnvelopeError::Empty);
    }
    let (header_line, mut pos) = line(body, 0);
    let header = object(header_line).map_err(EnvelopeError::BadHeader)?;
    let mut items = Vec::new();
    while pos < body.len() {
        let index = items.len();
        let (item_line, after_header) = line(body, pos);
        let item_header = object(item_line).map_err(|reason| EnvelopeError::BadItemHeader { index, reason })?;
        if !item_header.get("type").is_some_and(Value::is_string) {
            return Err(EnvelopeError::MissingType { index });
        }
        let payload;
        match item_header.get("length") {
            None | Some(Value::Null) => {
                let (p, next) = line(body, after_header);
                payload = p;
                pos = next;
            }
            Some(v) => {
                let length = v.as_u64().ok_or(EnvelopeError::BadLength { index })?;
                let end = usize::try_from(length)
                    .ok()
                    .and_then(|l| after_header.checked_add(l))
                    .filter(|&end| end <= body.len())
                    .ok_or(EnvelopeError::Truncated { index, length })?;
                payload = &body[after_header..end];
                pos = match body.get(end) {
                    None => end,
                    Some(b'\n') => end + 1,
                    Some(_) => return Err(EnvelopeError::MissingNewline { index }),
                };
            }
        }
        items.push(Item { header: item_header, payload });
    }
    Ok(Envelope { header, items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python_style(payload: &str) -> Vec<u8> {
        format!(
            "{{\"event_id\":\"0b8c6f1e9a2d4e7f8a1b2c3d4e5f6071\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
            payload.len()
        )
        .into_bytes()
    }

    #[test]
    fn items_with_length_and_a_trailing_newline() {
        let body = python_style("{\"message\":\"disk full\"}");
        let env = parse(&body).unwrap();
        assert_eq!(env.header["event_id"], "0b8c6f1e9a2d4e7f8a1b2c3d4e5f6071");
        assert_eq!(env.items.len(), 1);
        assert_eq!(env.items[0].kind(), "event");
        assert_eq!(env.items[0].payload, b"{\"message\":\"disk full\"}");
    }

    #[test]
    fn items_without_length_and_without_a_final_newline() {
        let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"a\"}\n{\"type\":\"client_report\"}\n{\"x\":1}";
        let env = parse(body).unwrap();
        let kinds: Vec<_> = env.items.iter().map(Item::kind).collect();
        assert_eq!(kinds, ["event", "client_report"]);
        assert_eq!(env.items[1].payload, b"{\"x\":1}");
    }

    #[test]
    fn a_length_payload_may_hold_newlines_and_be_empty() {
        let body = b"{}\n{\"type\":\"attachment\",\"length\":7}\nab\ncd\ne\n{\"type\":\"attachment\",\"length\":0}\n\n";
        let env = parse(body).unwrap();
        assert_eq!(env.items[0].payload, b"ab\ncd\ne");
        assert_eq!(env.items[1].payload, b"");
    }

    #[test]
    fn header_only_envelopes_are_valid() {
        assert_eq!(parse(b"{}").unwrap().items.len(), 0);
        assert_eq!(parse(b"{}\n").unwrap().items.len(), 0);
    }

    #[test]
    fn malformed_framing_is_an_error() {
        assert_eq!(parse(b"").unwrap_err(), EnvelopeError::Empty);
        assert!(matches!(parse(b"not json\n").unwrap_err(), EnvelopeError::BadHeader(_)));
        assert!(matches!(parse(b"{}\nnope\n").unwrap_err(), EnvelopeError::BadItemHeader { index: 0, .. }));
        assert!(matches!(parse(b"{}\n{\"length\":1}\nx").unwrap_err(), EnvelopeError::MissingType { index: 0 }));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":50}\n{}").unwrap_err(),
            EnvelopeError::Truncated { .. }
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":2}\n{}x").unwrap_err(),
            EnvelopeError::MissingNewline { .. }
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":-1}\n{}").unwrap_err(),
            EnvelopeError::BadLength { .. }
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":1}").unwrap_err(),
            EnvelopeError::Truncated { .. }
        ));
    }

    #[test]
    fn random_bytes_and_truncations_never_panic() {
        let real = python_style("{\"message\":\"disk full\",\"extra\":{\"k\":[1,2,3]}}");
        for cut in 0..=real.len() {
            let _ = parse(&real[..cut]);
        }
        // A small deterministic generator: no dependency, same bytes every run.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"{}[]\":,\n0123456789abcdeflngthtype \\";
        for _ in 0..20_000 {
            let len = (next() % 96) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 { (r >> 8) as u8 } else { alphabet[(r >> 8) as usize % alphabet.len()] }
                })
                .collect();
            let _ = parse(&bytes);
            let mut mutated = real.clone();
            let at = (next() as usize) % mutated.len();
            mutated[at] = (next() >> 16) as u8;
            let _ = parse(&mutated);
        }
    }
}
