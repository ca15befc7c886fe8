//! Request bodies as SDKs send them: `Content-Encoding` gzip, deflate (zlib or raw), br or none,
//! read with a cap on the raw bytes and decompressed with a running cap on the output, so a
//! compression bomb stops at the cap instead of filling memory; decompressed bytes are reserved
//! from ingest's memory budget (`budget`) chunk by chunk.

use super::budget::Reservation;
use axum::body::Bytes;
use std::io::Read;

/// Raw body limit (as received).
pub const MAX_RAW: usize = 20 * 1024 * 1024;
/// Decoded body limit.
pub const MAX_DECODED: usize = 100 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body could not be read: {0}")]
    Read(String),
    #[error("the {encoding} body is corrupt: {reason}")]
    Corrupt { encoding: &'static str, reason: String },
    #[error("unsupported Content-Encoding {0:?}")]
    Unsupported(String),
    #[error("the server is at its limit of request bytes in memory; retry shortly")]
    Overloaded,
}

/// Decodes `raw` according to a `Content-Encoding` value, producing at most `cap` bytes; every
/// decompressed chunk is reserved from `reservation` first (refused when the budget is full).
pub fn decode(
    encoding: Option<&str>,
    raw: Bytes,
    cap: usize,
    reservation: &mut Reservation,
) -> Result<Bytes, DecodeError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    match encoding.as_str() {
        // sentry-ruby 5 and an old Android SDK send "UTF-8" to mean "not encoded".
        "" | "identity" | "utf-8" | "utf8" => {
            if raw.len() > cap {
                return Err(DecodeError::TooLarge { limit: cap });
            }
            Ok(raw)
        }
        other => {
            let hint = if matches!(other, "gzip" | "x-gzip") { gzip_length(&raw) } else { None };
            decoder(other, &raw).and_then(|(name, reader)| capped(name, reader, cap, hint, Some(reservation)))
        }
    }
}

/// The first `cap` bytes of the decoded body at most (less when the body is shorter): enough to
/// read an envelope's header line before the whole body is decoded.
pub fn decode_prefix(encoding: Option<&str>, raw: &Bytes, cap: usize) -> Result<Bytes, DecodeError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" | "utf-8" | "utf8" => Ok(raw.slice(..raw.len().min(cap))),
        other => {
            let (name, reader) = decoder(other, raw)?;
            let mut out = Vec::with_capacity(cap.min(64 * 1024));
            reader
                .take(cap as u64)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::Corrupt { encoding: name, reason: e.to_string() })?;
            Ok(out.into())
        }
    }
}

/// The streaming decoder of a compressed encoding.
fn decoder<'a>(encoding: &str, raw: &'a [u8]) -> Result<(&'static str, Box<dyn Read + 'a>), DecodeError> {
    Ok(match encoding {
        "gzip" | "x-gzip" => ("gzip", Box::new(flate2::read::MultiGzDecoder::new(raw))),
        "deflate" => {
            // zlib (RFC 1950) when the first two bytes form a valid header, else raw deflate.
            let zlib = raw.len() >= 2 && raw[0] & 0x0f == 8 && (u16::from(raw[0]) << 8 | u16::from(raw[1])) % 31 == 0;
            if zlib {
                ("deflate", Box::new(flate2::read::ZlibDecoder::new(raw)))
            } else {
                ("deflate", Box::new(flate2::read::DeflateDecoder::new(raw)))
            }
        }
        "br" => ("br", Box::new(brotli_decompressor::Decompressor::new(raw, 64 * 1024))),
        other => return Err(DecodeError::Unsupported(other.to_owned())),
    })
}

/// Reads the decoder out in chunks, stopping past `cap` and reserving what the buffer allocates
/// first. `size_hint` (gzip's length trailer, which the sender chooses) sizes the buffer once
/// when it is within the cap, so an honest body is decoded without the buffer doubling; a wrong
/// hint only costs the doubling it would have had anyway.
fn capped(
    encoding: &'static str,
    mut reader: impl Read,
    cap: usize,
    size_hint: Option<usize>,
    mut reservation: Option<&mut Reservation>,
) -> Result<Bytes, DecodeError> {
    const CHUNK: usize = 64 * 1024;
    let mut out: Vec<u8> = Vec::new();
    // The budget counts what is allocated: the buffer's capacity, reserved before it grows.
    let mut reserved = 0;
    let mut grow_to = |out: &mut Vec<u8>, want: usize| -> Result<(), DecodeError> {
        if let Some(r) = reservation.as_deref_mut() {
            r.try_take(want.saturating_sub(reserved)).map_err(|_| DecodeError::Overloaded)?;
            reserved = reserved.max(want);
        }
        out.reserve_exact(want.saturating_sub(out.len()));
        Ok(())
    };
    if let Some(hint) = size_hint.filter(|&h| h <= cap) {
        // One byte more, so the read that finds the end needs no growth.
        grow_to(&mut out, hint + 1)?;
    }
    loop {
        if out.len() > cap {
            return Err(DecodeError::TooLarge { limit: cap });
        }
        if out.len() == out.capacity() {
            let want = (out.capacity() * 2).max(out.len() + CHUNK).min(cap + CHUNK + 1);
            grow_to(&mut out, want)?;
        }
        let start = out.len();
        let spare = (out.capacity() - start).min(CHUNK);
        out.resize(start + spare, 0);
        let n = loop {
            match reader.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(DecodeError::Corrupt { encoding, reason: e.to_string() }),
            }
        };
        out.truncate(start + n);
        if n == 0 {
            return Ok(out.into());
        }
    }
}

/// The uncompressed length a gzip body's trailer claims (modulo 2³², of its last member).
fn gzip_length(raw: &[u8]) -> Option<usize> {
    let tail: [u8; 4] = raw.len().checked_sub(4).and_then(|at| raw.get(at..))?.try_into().ok()?;
    (raw.len() >= 18).then(|| u32::from_le_bytes(tail) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"{\"message\":\"hello\"}";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(encoding: Option<&str>, raw: Bytes, cap: usize) -> Result<Bytes, DecodeError> {
        let budget = super::super::budget::Budget::new(256 << 20, 1);
        super::decode(encoding, raw, cap, &mut budget.reservation())
    }

    #[test]
    fn every_supported_encoding_decodes() {
        assert_eq!(decode(Some("gzip"), gzip(TEXT).into(), 1024).unwrap(), TEXT);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(TEXT).unwrap();
        assert_eq!(decode(Some("deflate"), z.finish().unwrap().into(), 1024).unwrap(), TEXT);
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(TEXT).unwrap();
        assert_eq!(decode(Some("deflate"), d.finish().unwrap().into(), 1024).unwrap(), TEXT);
        for none in [None, Some(""), Some("UTF-8"), Some("identity")] {
            assert_eq!(decode(none, TEXT.into(), 1024).unwrap(), TEXT);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![b'a'; 4 * 1024 * 1024]);
        assert!(bomb.len() < 10_000);
        assert!(matches!(decode(Some("gzip"), bomb.into(), 1024 * 1024), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn a_bomb_past_the_memory_budget_is_refused_as_overload() {
        let bomb = gzip(&vec![b'a'; 4 * 1024 * 1024]);
        let budget = super::super::budget::Budget::new(1024 * 1024, 1);
        let got = super::decode(Some("gzip"), bomb.into(), 8 * 1024 * 1024, &mut budget.reservation());
        assert!(matches!(got, Err(DecodeError::Overloaded)), "{got:?}");
        assert_eq!(budget.available(), 1024 * 1024, "the reservation was given back");
    }

    #[test]
    fn an_honest_gzip_length_sizes_the_buffer_once_and_a_false_one_still_decodes() {
        let data = vec![b'z'; 3 * 1024 * 1024 + 5];
        let budget = super::super::budget::Budget::new(64 << 20, 1);
        let mut r = budget.reservation();
        let out = super::decode(Some("gzip"), gzip(&data).into(), 8 << 20, &mut r).unwrap();
        assert_eq!(out, data);
        assert_eq!((64 << 20) - budget.available(), (data.len() + 1).div_ceil(1024) * 1024, "reserved once, exactly");
        drop(r);
        // Two members: the trailer names only the last one's length.
        let mut two = gzip(&data);
        two.extend(gzip(b"tail"));
        let mut whole = data.clone();
        whole.extend_from_slice(b"tail");
        assert_eq!(decode(Some("gzip"), two.into(), 8 << 20).unwrap(), whole);
    }

    #[test]
    fn a_prefix_decodes_only_as_far_as_asked() {
        let big = gzip(&vec![b'a'; 4 * 1024 * 1024]);
        assert_eq!(decode_prefix(Some("gzip"), &big.into(), 1000).unwrap().len(), 1000);
        assert_eq!(decode_prefix(None, &Bytes::from_static(b"abc"), 1000).unwrap(), &b"abc"[..]);
    }

    #[test]
    fn corrupt_or_unknown_encodings_are_errors() {
        let broken = gzip(TEXT)[..12].to_vec();
        assert!(matches!(decode(Some("gzip"), broken.into(), 1024), Err(DecodeError::Corrupt { .. })));
        assert!(matches!(decode(Some("compress"), TEXT.into(), 1024), Err(DecodeError::Unsupported(_))));
    }
}
