//! Checks an event item's JSON without building it: accepts exactly what a `serde_json::Value`
//! would (strings decoded, so a lone UTF-16 surrogate is refused; numbers within range; the same
//! nesting limit), and keeps only the two top-level fields ingest needs, `event_id` and `type`.
//! The worker parses the event fully later; this makes sure that parse cannot fail.

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The fields of an event ingest looks at.
#[derive(Debug, Default, PartialEq)]
pub struct EventHead {
    /// The payload's `event_id`, whatever JSON it is (`null` counts as absent).
    pub event_id: Option<Value>,
    /// The payload's `type`, when it is a string.
    pub kind: Option<String>,
}

/// Why an event's JSON is refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the event is not a JSON object")]
    NotObject,
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Checks `payload` as a whole JSON object and answers its `event_id` and `type`.
pub fn check(payload: &[u8]) -> Result<EventHead, CheckError> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Still report broken JSON as such.
        serde_json::from_slice::<de::IgnoredAny>(payload)?;
        return Err(CheckError::NotObject);
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let head = de.deserialize_map(Top)?;
    de.end()?;
    Ok(head)
}

/// The top-level object: two fields read, the rest checked and dropped.
struct Top;

impl<'de> Visitor<'de> for Top {
    type Value = EventHead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventHead, A::Error> {
        let mut head = EventHead::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::EventId => {
                    let v: Value = map.next_value()?;
                    head.event_id = (!v.is_null()).then_some(v);
                }
                Key::Type => {
                    let v: Value = map.next_value()?;
                    head.kind = v.as_str().map(str::to_owned);
                }
                Key::Other => map.next_value_seed(Any)?,
            }
        }
        Ok(head)
    }
}

enum Key {
    EventId,
    Type,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
        Ok(match k {
            "event_id" => Key::EventId,
            "type" => Key::Type,
            _ => Key::Other,
        })
    }
}

/// Any JSON value, decoded as `Value` would decode it but kept nowhere.
struct Any;

impl<'de> DeserializeSeed<'de> for Any {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Any)
    }
}

impl<'de> Visitor<'de> for Any {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Any)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Any)?.is_some() {
            map.next_value_seed(Any)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input is checked the same way a `serde_json::Value` parse would judge it.
    fn agrees_with_value(input: &str) {
        let ours = check(input.as_bytes());
        let value = serde_json::from_str::<Value>(input);
        match (&ours, &value) {
            (Ok(_), Ok(v)) => assert!(v.is_object(), "{input}: accepted a non-object"),
            (Err(CheckError::NotObject), Ok(v)) => assert!(!v.is_object(), "{input}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{input}: check {ours:?} but Value {value:?}"),
        }
    }

    #[test]
    fn accepts_and_refuses_what_value_does() {
        for input in [
            r#"{"a": 1}"#,
            r#"  {"event_id": "abc", "type": "transaction"} "#,
            r#"{"s": "\ud83d\ude00"}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"n": 1e400}"#,
            r#"{"n": -12345678901234567890123}"#,
            r#"{"a": [1, 2, {"b": null}]}"#,
            r#"{"a": 1,}"#,
            r#"{"a": 1} x"#,
            r#"[1, 2]"#,
            r#""text""#,
            "{",
            "",
            r#"{"a": "\x"}"#,
            "{\"a\": \"raw\u{1}control\"}",
            &format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200)),
            &format!("{{\"a\":{}1{}}}", "[".repeat(126), "]".repeat(126)),
        ] {
            agrees_with_value(input);
        }
    }

    #[test]
    fn reads_event_id_and_type_and_treats_null_id_as_absent() {
        let head =
            check(br#"{"x": {"event_id": "inner"}, "event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "type": "error"}"#)
                .unwrap();
        assert_eq!(head.event_id, Some(Value::from("9ec79c33ec9942ab8353589fcb2e04dc")));
        assert_eq!(head.kind.as_deref(), Some("error"));
        assert_eq!(check(br#"{"event_id": null}"#).unwrap().event_id, None);
        assert_eq!(check(br#"{"event_id": 5}"#).unwrap().event_id, Some(Value::from(5)));
    }
}
