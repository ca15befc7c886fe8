//! Request bodies as SDKs send them: `Content-Encoding` gzip, deflate (zlib or raw), br or none,
//! read with a cap on the raw bytes and decompressed with a running cap on the output, so a
//! compression bomb stops at the cap instead of filling memory.

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
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
}

/// Reads at most `MAX_RAW` bytes of the body.
pub async fn read_raw(body: Body) -> Result<Bytes, DecodeError> {
    http_body_util::Limited::new(body, MAX_RAW).collect().await.map(|c| c.to_bytes()).map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            DecodeError::TooLarge { limit: MAX_RAW }
        } else {
            DecodeError::Read(e.to_string())
        }
    })
}

/// Decodes `raw` according to a `Content-Encoding` value, producing at most `cap` bytes.
pub fn decode(encoding: Option<&str>, raw: Bytes, cap: usize) -> Result<Bytes, DecodeError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    match encoding.as_str() {
        // sentry-ruby 5 and an old Android SDK send "UTF-8" to mean "not encoded".
        "" | "identity" | "utf-8" | "utf8" => {
            if raw.len() > cap {
                return Err(DecodeError::TooLarge { limit: cap });
            }
            Ok(raw)
        }
        "gzip" | "x-gzip" => capped("gzip", flate2::read::MultiGzDecoder::new(&raw[..]), cap),
        "deflate" => {
            // zlib (RFC 1950) when the first two bytes form a valid header, else raw deflate.
            let zlib = raw.len() >= 2 && raw[0] & 0x0f == 8 && (u16::from(raw[0]) << 8 | u16::from(raw[1])) % 31 == 0;
            if zlib {
                capped("deflate", flate2::read::ZlibDecoder::new(&raw[..]), cap)
            } else {
                capped("deflate", flate2::read::DeflateDecoder::new(&raw[..]), cap)
            }
        }
        "br" => capped("br", brotli_decompressor::Decompressor::new(&raw[..], 64 * 1024), cap),
        other => Err(DecodeError::Unsupported(other.to_owned())),
    }
}

fn capped(encoding: &'static str, reader: impl Read, cap: usize) -> Result<Bytes, DecodeError> {
    let mut out = Vec::new();
    let read = reader
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt { encoding, reason: e.to_string() })?;
    if read > cap {
        return Err(DecodeError::TooLarge { limit: cap });
    }
    Ok(out.into())
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
    fn corrupt_or_unknown_encodings_are_errors() {
        let broken = gzip(TEXT)[..12].to_vec();
        assert!(matches!(decode(Some("gzip"), broken.into(), 1024), Err(DecodeError::Corrupt { .. })));
        assert!(matches!(decode(Some("compress"), TEXT.into(), 1024), Err(DecodeError::Unsupported(_))));
    }
}
