//! The one-click unsubscribe of alert emails: `GET /unsubscribe/{token}` asks, `POST` (the
//! page's button, or a mail client's RFC 8058 one-click request) sets the member's email
//! alerts for that project to none. No sign-in: the token is the permission.

use crate::model::EmailMode;
use crate::server::db::alerts as db;
use crate::server::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;

/// A new random token (24 bytes, URL-safe base64).
pub fn new_token() -> Result<String, crate::server::error::ServerError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| crate::server::error::ServerError::Other(format!("randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn page(options: &leptos::config::LeptosOptions, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} · faultline</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"page narrow\">\
         <h1>{t}</h1>{body}</main></body></html>",
        t = super::render::html_escape(title),
        css = crate::server::assets::css_href(options)
    );
    (status, Html(html)).into_response()
}

fn unknown(options: &leptos::config::LeptosOptions) -> Response {
    page(options, StatusCode::NOT_FOUND, "Link not valid", "<p>This unsubscribe link is not valid (any more).</p>")
}

pub async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match db::unsubscribe_target(&state.db, &token).await {
        Ok(Some((_, _, email, project))) => page(
            &state.leptos_options,
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "<p>Stop sending alert emails of <strong>{}</strong> to {}?</p>\
                 <form method=\"post\"><button type=\"submit\" class=\"danger\">Unsubscribe</button></form>",
                super::render::html_escape(&project),
                super::render::html_escape(&email)
            ),
        ),
        Ok(None) => unknown(&state.leptos_options),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe lookup failed");
            page(
                &state.leptos_options,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The server cannot answer right now.</p>",
            )
        }
    }
}

pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let target = match db::unsubscribe_target(&state.db, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return unknown(&state.leptos_options),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe lookup failed");
            return page(
                &state.leptos_options,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The server cannot answer right now.</p>",
            );
        }
    };
    let (user, project, email, name) = target;
    if let Err(e) = db::set_email_mode(&state.db, user, project, EmailMode::None).await {
        tracing::error!(error = %e, "unsubscribe failed");
        return page(
            &state.leptos_options,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "<p>The server cannot answer right now.</p>",
        );
    }
    crate::server::audit::record(&state, Err(&email), "alerts.unsubscribe", Some(project), &name, None).await;
    page(
        &state.leptos_options,
        StatusCode::OK,
        "Unsubscribed",
        &format!(
            "<p>{} gets no more alert emails of <strong>{}</strong>. You can turn them on again on the project's \
             <a href=\"/alerts\">Alerts</a> page.</p>",
            super::render::html_escape(&email),
            super::render::html_escape(&name)
        ),
    )
}
