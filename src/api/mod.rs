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
