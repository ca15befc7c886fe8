//! The session cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`; over https also `Secure` with the
//! `__Host-` prefix (so no subdomain can set or widen it). Its lifetime is the session's.

use crate::server::config::Settings;
use axum::http::{HeaderMap, HeaderValue, header};

/// True when the dashboard is served over https (`FAULTLINE_PUBLIC_URL`).
fn secure(settings: &Settings) -> bool {
    settings.public_url.to_ascii_lowercase().starts_with("https://")
}

/// The cookie's name (`__Host-` needs `Secure`, so plain http uses the bare name).
pub fn name(settings: &Settings) -> &'static str {
    if secure(settings) { "__Host-faultline_session" } else { "faultline_session" }
}

/// The `Set-Cookie` value that hands `token` to the browser.
pub fn set(settings: &Settings, token: &str) -> HeaderValue {
    let max_age = settings.session_lifetime.as_secs();
    let secure = if secure(settings) { "; Secure" } else { "" };
    let value = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", name(settings));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that makes the browser forget the cookie.
pub fn clear(settings: &Settings) -> HeaderValue {
    let secure = if secure(settings) { "; Secure" } else { "" };
    let value = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", name(settings));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session token a request carries, if any.
pub fn read<'a>(settings: &Settings, headers: &'a HeaderMap) -> Option<&'a str> {
    let wanted = name(settings);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == wanted && !v.is_empty())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: &str) -> Settings {
        let mut s = Settings::for_tests("postgres://unused", "unused");
        s.public_url = public_url.into();
        s
    }

    #[test]
    fn over_https_the_cookie_is_secure_and_host_only() {
        let s = settings("https://errors.example.com");
        let v = set(&s, "fls_abc").to_str().unwrap().to_owned();
        assert!(v.starts_with("__Host-faultline_session=fls_abc; Path=/; HttpOnly; SameSite=Lax; Max-Age="), "{v}");
        assert!(v.ends_with("; Secure"), "{v}");
        let plain = set(&settings("http://127.0.0.1:3000"), "fls_abc").to_str().unwrap().to_owned();
        assert!(plain.starts_with("faultline_session=fls_abc;") && !plain.contains("Secure"), "{plain}");
    }

    #[test]
    fn the_token_is_read_from_any_cookie_header_and_others_are_ignored() {
        let s = settings("http://localhost");
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; faultline_sessionx=no"));
        assert_eq!(read(&s, &headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("a=b; faultline_session=fls_1"));
        assert_eq!(read(&s, &headers), Some("fls_1"));
    }
}
