//! Server functions: typed calls from the dashboard to the server (stubs in the browser build).

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
