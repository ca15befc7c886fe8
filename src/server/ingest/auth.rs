//! Where Sentry SDKs put the project's public key: `?sentry_key=`, `X-Sentry-Auth`,
//! `Authorization: Sentry …`, or the envelope header's `dsn` (tunnels). First source wins; two
//! sources with different keys are refused.

use super::error::IngestError;
use axum::http::HeaderMap;

/// The request-level auth: the key (if any) and the protocol version asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestAuth {
    pub key: Option<String>,
    pub version: Option<String>,
}

/// `name=value` pairs of a `Sentry k=v, k=v` header value (the `Sentry` word is optional).
fn header_pairs(value: &str) -> Vec<(String, String)> {
    let value = value.trim();
    let body = match (value.get(..6), value[6.min(value.len())..].chars().next()) {
        (Some(word), Some(c)) if word.eq_ignore_ascii_case("sentry") && c.is_whitespace() => &value[6..],
        _ => value,
    };
    body.split(',')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect()
}

/// Reads every request-level source; 401 when two of them disagree on the key.
pub fn request_auth(headers: &HeaderMap, query: Option<&str>) -> Result<RequestAuth, IngestError> {
    let mut sources: Vec<Vec<(String, String)>> = vec![crate::model::query_pairs(query.unwrap_or("")).collect()];
    if let Some(v) = headers.get("x-sentry-auth").and_then(|v| v.to_str().ok()) {
        sources.push(header_pairs(v));
    }
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && v.trim_start().get(..7).is_some_and(|w| w[..6].eq_ignore_ascii_case("sentry") && w.ends_with(' '))
    {
        sources.push(header_pairs(v));
    }
    let mut auth = RequestAuth::default();
    for pairs in &sources {
        for (k, v) in pairs {
            match k.as_str() {
                "sentry_key" if !v.is_empty() => match &auth.key {
                    None => auth.key = Some(v.clone()),
                    Some(existing) if existing != v => return Err(IngestError::ConflictingKeys),
                    Some(_) => {}
                },
                "sentry_version" if auth.version.is_none() => auth.version = Some(v.clone()),
                _ => {}
            }
        }
    }
    if let Some(v) = &auth.version
        && v.parse::<u32>().map_or(true, |n| n > 7)
    {
        return Err(IngestError::BadVersion(v.clone()));
    }
    Ok(auth)
}

/// The public key of a DSN (`scheme://key[:secret]@host/…/project`).
pub fn dsn_key(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let key = userinfo.split(':').next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_come_from_every_documented_place() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-sentry-auth",
            HeaderValue::from_static("Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.35.0"),
        );
        assert_eq!(request_auth(&h, None).unwrap().key.as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Sentry sentry_key=abc,sentry_version=7"));
        assert_eq!(request_auth(&h, None).unwrap().key.as_deref(), Some("abc"));
        let q = request_auth(&HeaderMap::new(), Some("sentry_version=7&sentry_key=abc&sentry_client=x")).unwrap();
        assert_eq!(q.key.as_deref(), Some("abc"));
        assert_eq!(request_auth(&HeaderMap::new(), None).unwrap().key, None);
    }

    #[test]
    fn the_sentry_word_is_optional_in_the_auth_header() {
        let mut h = HeaderMap::new();
        h.insert("x-sentry-auth", HeaderValue::from_static("sentry_key=abc,sentry_version=7"));
        assert_eq!(request_auth(&h, None).unwrap().key.as_deref(), Some("abc"));
    }

    #[test]
    fn two_different_keys_and_newer_versions_are_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-sentry-auth", HeaderValue::from_static("Sentry sentry_key=abc"));
        assert!(matches!(request_auth(&h, Some("sentry_key=def")), Err(IngestError::ConflictingKeys)));
        assert!(request_auth(&h, Some("sentry_key=abc")).is_ok());
        assert!(matches!(
            request_auth(&HeaderMap::new(), Some("sentry_key=a&sentry_version=8")),
            Err(IngestError::BadVersion(_))
        ));
    }

    #[test]
    fn dsn_keys_parse_with_and_without_secret() {
        assert_eq!(dsn_key("https://k1@errors.example.net/7").as_deref(), Some("k1"));
        assert_eq!(dsn_key("https://k1:@errors.example.net/7").as_deref(), Some("k1"));
        assert_eq!(dsn_key("https://errors.example.net/7"), None);
    }
}
