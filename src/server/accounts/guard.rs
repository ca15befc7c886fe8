//! The dashboard's door: every page, server function and `/live` passes here. It refuses
//! server-function calls and cookie-carrying changes from other sites (`403`), finds the
//! session of the cookie, sends visitors without one to `/login?next=…` (`303`) — or answers
//! `401` for server functions and `/live` —, and hands the signed-in user to what runs next as a
//! request extension (`SignedIn`). It also gives server-function errors their own status.

use super::cookie;
use crate::model::{AppError, safe_next};
use crate::server::db::sessions::SessionUser;
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::ServerFn;

/// The signed-in user of a request, with the session token it came with.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: SessionUser,
    pub token: String,
}

impl SignedIn {
    /// Whether the user is an instance admin (an admin of every project).
    pub fn is_admin(&self) -> bool {
        self.user.role == crate::model::InstanceRole::Admin
    }
}

/// Server functions that answer without a session: signing in, creating the first admin, and
/// the invitation and password-reset links (their token is the credential).
fn public_server_fn(path: &str) -> bool {
    use crate::api::account::{CompleteSetup, SignIn};
    use crate::api::users::{AcceptInvite, ResetPassword};
    [SignIn::PATH, CompleteSetup::PATH, AcceptInvite::PATH, ResetPassword::PATH].contains(&path)
}

/// Pages shown without a session.
fn public_page(path: &str) -> bool {
    path == "/login" || ["/setup/", "/invite/", "/reset/"].iter().any(|p| path.starts_with(p))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    ServerFn,
    Live,
    Page,
}

/// The middleware (see the module's description).
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let kind = if path.starts_with("/api/") {
        Kind::ServerFn
    } else if path == "/live" {
        Kind::Live
    } else {
        Kind::Page
    };
    let token = cookie::read(&state.settings, req.headers()).map(str::to_owned);
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if (kind == Kind::ServerFn || (changes && token.is_some())) && !same_site(&state, req.headers()) {
        return error(AppError::Forbidden);
    }
    let user = match &token {
        Some(token) => match super::session::user_of(&state, token).await {
            Ok(user) => user,
            Err(e) => return error(AppError::from(e)),
        },
        None => None,
    };
    let public = match kind {
        Kind::ServerFn => public_server_fn(&path),
        Kind::Live => false,
        Kind::Page => public_page(&path),
    };
    match (&user, kind) {
        (None, Kind::Page) if !public => {
            let here = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            return see_other(&format!("/login?next={}", percent_encode(here)));
        }
        (None, _) if !public => return error(AppError::Unauthorized),
        (Some(_), Kind::Page) if path == "/login" => {
            let next = req.uri().query().and_then(next_param).unwrap_or_default();
            return see_other(safe_next(&next));
        }
        _ => {}
    }
    if let (Some(user), Some(token)) = (user, token) {
        req.extensions_mut().insert(SignedIn { user, token });
    }
    let mut res = next.run(req).await;
    if kind != Kind::Live {
        // Signed-in pages and answers stay out of every cache (the back button after signing
        // out shows nothing).
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if kind == Kind::ServerFn && res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return with_error_status(res).await;
    }
    res
}

/// True when the request comes from this site: `Sec-Fetch-Site` (where the browser sends it)
/// says same-origin, and `Origin` (where present) is `FAULTLINE_PUBLIC_URL`'s origin or names
/// the host the request was sent to. Clients that are not browsers send neither.
fn same_site(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let own = origin_of(&state.settings.public_url);
    if origin.eq_ignore_ascii_case(own) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if !o.contains('/') && o.eq_ignore_ascii_case(h))
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The decoded `next` parameter of a query string.
fn next_param(query: &str) -> Option<String> {
    crate::model::query_pairs(query).find(|(k, _)| k == "next").map(|(_, v)| v)
}

/// Percent-encodes all but unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn see_other(location: &str) -> Response {
    let location = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response()
}

/// An `AppError` as its status and JSON body (with `Retry-After` when it has one).
pub fn error(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&e).unwrap_or_default();
    let mut res =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    if let AppError::TooManyAttempts { retry_after } = e {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A server function's error answer (which server functions always send as `500`) with the
/// status of its `AppError`.
async fn with_error_status(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    // Error bodies are a few hundred bytes; anything larger is left as it is.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error(AppError::Unavailable);
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let AppError::TooManyAttempts { retry_after } = e {
            parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_of_a_url_drops_its_path() {
        assert_eq!(origin_of("https://errors.example.com/some/path"), "https://errors.example.com");
        assert_eq!(origin_of("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }

    #[test]
    fn next_survives_the_round_trip_through_the_login_url() {
        let here = "/issues/7?event=a b&x=1#top";
        let encoded = percent_encode(here);
        assert!(!encoded.contains(['?', '&', ' ', '#']), "{encoded}");
        assert_eq!(next_param(&format!("next={encoded}")).as_deref(), Some(here));
    }
}
