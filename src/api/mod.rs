//! Server functions: typed calls from the dashboard to the server (stubs in the browser build).

pub mod account;
pub mod alerts;
pub mod issues;
pub mod projects;
pub mod triggers;
pub mod users;

/// Project `id` as the signed-in user may use it: `NotFound` when they do not see it (exactly as
/// for a project that does not exist), `Forbidden` when their role there is below `needs`.
#[cfg(feature = "ssr")]
async fn project_grant(
    st: &crate::server::AppState,
    me: &crate::server::accounts::guard::SignedIn,
    id: crate::model::ProjectId,
    needs: crate::model::ProjectRole,
) -> Result<crate::server::db::projects::Grant, crate::model::AppError> {
    use crate::server::{db, error::ServerError};
    let grant = db::projects::grant(&st.db, me.user.user, me.is_admin(), id).await.map_err(ServerError::from)?;
    require(grant, needs)
}

/// The project of issue `id`, as `project_grant` checks it (no such issue: `NotFound`).
#[cfg(feature = "ssr")]
async fn issue_grant(
    st: &crate::server::AppState,
    me: &crate::server::accounts::guard::SignedIn,
    id: crate::model::IssueId,
    needs: crate::model::ProjectRole,
) -> Result<crate::server::db::projects::Grant, crate::model::AppError> {
    use crate::server::{db, error::ServerError};
    let project =
        db::issues::project_of(&st.db, id).await.map_err(ServerError::from)?.ok_or(crate::model::AppError::NotFound)?;
    project_grant(st, me, project, needs).await
}

/// The project the dashboard addresses by slug (`None`: the first the user sees), as
/// `project_grant` checks it.
#[cfg(feature = "ssr")]
async fn slug_grant(
    st: &crate::server::AppState,
    me: &crate::server::accounts::guard::SignedIn,
    slug: Option<&str>,
    needs: crate::model::ProjectRole,
) -> Result<crate::server::db::projects::Grant, crate::model::AppError> {
    use crate::server::{db, error::ServerError};
    let (user, admin) = (me.user.user, me.is_admin());
    let grant = match slug {
        Some(slug) => db::projects::grant_by_slug(&st.db, user, admin, slug).await,
        None => db::projects::grants(&st.db, user, admin).await.map(|g| g.into_iter().min_by_key(|g| g.project.id)),
    };
    require(grant.map_err(ServerError::from)?, needs)
}

#[cfg(feature = "ssr")]
fn require(
    grant: Option<crate::server::db::projects::Grant>,
    needs: crate::model::ProjectRole,
) -> Result<crate::server::db::projects::Grant, crate::model::AppError> {
    let grant = grant.ok_or(crate::model::AppError::NotFound)?;
    if grant.role.allows(needs) { Ok(grant) } else { Err(crate::model::AppError::Forbidden) }
}

/// A project as the dashboard lists it, with the caller's role.
#[cfg(feature = "ssr")]
fn brief(grant: &crate::server::db::projects::Grant) -> crate::model::ProjectBrief {
    crate::model::ProjectBrief {
        id: grant.project.id,
        name: grant.project.name.clone(),
        slug: grant.project.slug.clone(),
        role: grant.role,
    }
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
