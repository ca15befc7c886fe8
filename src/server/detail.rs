//! The `errors.detail` column: an SDK event's large parts that no query looks into (exceptions
//! with their frames, breadcrumbs, modules, and the rest of what the SDK sent), stored as one
//! JSON document compressed by the worker, so PostgreSQL neither parses nor compresses them.
//!
//! Layout: a format byte (`1`), the JSON's length (u32, little-endian), the JSON as an LZ4
//! block. A document is at most `limits::DETAIL` bytes of JSON: a larger one is trimmed (long
//! texts cut, the last items dropped, `"trimmed": true` added) before it is stored.

use crate::server::worker::limits;
use serde_json::{Map, Value};

/// The context keys moved out of `errors.context` into the document.
pub const MOVED: [&str; 3] = ["exception", "breadcrumbs", "modules"];
const FORMAT: u8 = 1;
/// Larger documents are refused when read (events are at most 1 MiB before normalising).
const MAX_LEN: usize = 64 << 20;

/// Why a stored document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DetailError {
    #[error("unknown detail format")]
    Format,
    #[error("detail document too large")]
    TooLarge,
    #[error("detail document damaged: {0}")]
    Lz4(#[from] lz4_flex::block::DecompressError),
    #[error("detail document is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Takes the `MOVED` keys out of `context` and packs them with `payload` (what the columns and
/// context do not hold). Answers `None` when there is nothing to keep.
pub fn split(context: &mut Value, payload: Value) -> Option<Vec<u8>> {
    let mut moved = Map::new();
    if let Some(ctx) = context.as_object_mut() {
        for key in MOVED {
            if let Some(v) = ctx.remove(key) {
                moved.insert(key.to_owned(), v);
            }
        }
    }
    let payload_empty = payload.as_object().is_some_and(Map::is_empty) || payload.is_null();
    if moved.is_empty() && payload_empty {
        return None;
    }
    let mut doc = Map::new();
    doc.insert("context".into(), Value::Object(moved));
    doc.insert("payload".into(), payload);
    let mut doc = Value::Object(doc);
    // Serialising a `Value` cannot fail (its keys are strings).
    let mut json = serde_json::to_vec(&doc).ok()?;
    if json.len() > limits::DETAIL {
        // Room for the marker and what JSON escaping adds back.
        let mut budget = limits::DETAIL * 3 / 4;
        shrink(&mut doc, &mut budget);
        if let Some(map) = doc.as_object_mut() {
            map.insert("trimmed".into(), Value::Bool(true));
        }
        json = serde_json::to_vec(&doc).ok()?;
    }
    let len = u32::try_from(json.len()).ok()?;
    let mut out = Vec::with_capacity(5 + json.len() / 2);
    out.push(FORMAT);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&lz4_flex::block::compress(&json));
    Some(out)
}

/// Cuts `v` to about `budget` bytes of JSON in one pass: texts are cut where the budget ends and
/// the items and fields after that point are dropped, earlier ones kept whole.
fn shrink(v: &mut Value, budget: &mut usize) {
    match v {
        Value::String(s) => {
            let cost = s.len() + 2;
            if cost > *budget {
                *s = limits::truncate(s, budget.saturating_sub(2)).to_owned();
                *budget = 0;
            } else {
                *budget -= cost;
            }
        }
        Value::Array(items) => {
            *budget = budget.saturating_sub(2);
            let mut keep = 0;
            for item in items.iter_mut() {
                if *budget == 0 {
                    break;
                }
                shrink(item, budget);
                keep += 1;
            }
            items.truncate(keep);
        }
        Value::Object(map) => {
            *budget = budget.saturating_sub(2);
            let mut dropped = Vec::new();
            for (k, item) in map.iter_mut() {
                if *budget == 0 {
                    dropped.push(k.clone());
                    continue;
                }
                *budget = budget.saturating_sub(k.len() + 3);
                shrink(item, budget);
            }
            for k in dropped {
                map.remove(&k);
            }
        }
        _ => *budget = budget.saturating_sub(8),
    }
}

/// Puts the document's context keys back into `context`.
pub fn merge_into(context: &mut Value, stored: &[u8]) -> Result<(), DetailError> {
    let doc = read(stored)?;
    if let (Some(Value::Object(moved)), Some(ctx)) = (doc.get("context"), context.as_object_mut()) {
        for (k, v) in moved {
            ctx.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// The whole stored document: `{"context": {...}, "payload": {...}}`.
pub fn read(stored: &[u8]) -> Result<Value, DetailError> {
    let (&format, rest) = stored.split_first().ok_or(DetailError::Format)?;
    if format != FORMAT || rest.len() < 4 {
        return Err(DetailError::Format);
    }
    let (len, block) = rest.split_at(4);
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > MAX_LEN {
        return Err(DetailError::TooLarge);
    }
    let json = lz4_flex::block::decompress(block, len)?;
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_then_merge_gives_back_the_whole_context() {
        let full = json!({"user": {"id": "u1"}, "exception": {"values": [{"type": "E"}]},
                          "breadcrumbs": [{"message": "b"}], "modules": {"django": "5.0"}});
        let mut context = full.clone();
        let stored = split(&mut context, json!({"threads": []})).expect("something to keep");
        assert_eq!(context, json!({"user": {"id": "u1"}}));
        merge_into(&mut context, &stored).expect("readable");
        assert_eq!(context, full);
        assert_eq!(read(&stored).expect("readable")["payload"], json!({"threads": []}));
    }

    #[test]
    fn nothing_to_keep_stores_nothing() {
        let mut context = json!({"user": {"id": "u1"}});
        assert!(split(&mut context, json!({})).is_none());
    }

    #[test]
    fn an_oversized_document_is_trimmed_to_the_limit_not_stored_whole() {
        let frames: Vec<Value> =
            (0..40_000).map(|i| json!({"function": format!("f{i}"), "vars": {"x": "y".repeat(60)}})).collect();
        let mut context = json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}});
        let stored = split(&mut context, json!({"threads": "t".repeat(3 << 20)})).expect("something to keep");
        let doc = read(&stored).expect("readable");
        assert_eq!(doc["trimmed"], json!(true));
        let len = serde_json::to_vec(&doc).unwrap().len();
        assert!(len <= limits::DETAIL, "{len} bytes");
        let frames = doc["context"]["exception"]["values"][0]["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(frames[0]["function"], json!("f0"), "the first parts are kept");
        assert!(frames.len() < 40_000, "the last ones are dropped");
        let mut small = json!({"exception": {"values": [{"type": "E"}]}});
        let kept = read(&split(&mut small, Value::Null).unwrap()).unwrap();
        assert_eq!(kept.get("trimmed"), None, "a document under the limit is stored as it is");
    }

    #[test]
    fn damaged_documents_are_errors_not_panics() {
        let mut context = json!({"exception": {"values": [{"type": "E", "value": "x".repeat(500)}]}});
        let stored = split(&mut context, Value::Null).expect("something to keep");
        for cut in 0..stored.len() {
            let _ = read(&stored[..cut]);
        }
        let mut wrong_length = stored.clone();
        wrong_length[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read(&wrong_length), Err(DetailError::TooLarge)));
        assert!(matches!(read(&[9, 0, 0, 0, 0]), Err(DetailError::Format)));
    }
}
