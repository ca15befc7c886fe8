//! Server functions: typed calls from the dashboard to the server (stubs in the browser build).

pub mod account;
pub mod issues;
pub mod projects;
pub mod triggers;

/// The project the dashboard shows (the `default` one until projects can be chosen).
#[cfg(feature = "ssr")]
async fn dashboard_project(
    st: &crate::server::AppState,
) -> Result<crate::server::db::projects::ProjectRow, crate::model::AppError> {
    use crate::server::{db, error::ServerError};
    db::projects::find_by_name(&st.db, "default")
        .await
        .map_err(ServerError::from)?
        .ok_or(crate::model::AppError::NotFound)
}

/// The signed-in user of this call (the dashboard's guard put it on the request).
#[cfg(feature = "ssr")]
fn signed_in() -> Result<crate::server::accounts::guard::SignedIn, crate::model::AppError> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::server::accounts::guard::SignedIn>().cloned())
        .ok_or(crate::model::AppError::Unauthorized)
}

/// The calling client's address (`unknown` when the server does not know it) and user agent.
#[cfg(feature = "ssr")]
fn client() -> Result<(String, Option<String>), crate::model::AppError> {
    let parts =
        leptos::prelude::use_context::<axum::http::request::Parts>().ok_or(crate::model::AppError::Unavailable)?;
    let address =
        crate::server::auth_failures::ClientAddr::of(&parts).0.map_or_else(|| "unknown".into(), |a| a.to_string());
    let user_agent = parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok((address, user_agent))
}

/// Appends to the audit log: `me` did `action` (from this call's address).
#[cfg(feature = "ssr")]
async fn audit(
    st: &crate::server::AppState,
    me: &crate::server::accounts::guard::SignedIn,
    action: &str,
    project: Option<crate::model::ProjectId>,
    target: &str,
) {
    let address = client().ok().map(|(address, _)| address);
    crate::server::audit::record(st, Ok(&me.user), action, project, target, address.as_deref()).await;
}
