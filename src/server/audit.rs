//! The audit log: every sign-in (and failed attempt), sign-out, account change, key and DSN
//! change and issue status change or delete is appended with who, what, which project, when and
//! from which address. A failed append is logged; the action it describes stands.

use crate::model::ProjectId;
use crate::server::db::sessions::SessionUser;
use crate::server::db::{self, audit::Entry};
use crate::server::state::AppState;

/// Appends an entry by `actor` (a signed-in user) or, for failed sign-ins, by `attempted` (the
/// email that was tried).
pub async fn record(
    state: &AppState,
    actor: Result<&SessionUser, &str>,
    action: &str,
    project: Option<ProjectId>,
    target: &str,
    address: Option<&str>,
) {
    let (actor_id, name) = match actor {
        Ok(user) => (Some(user.user), user.email.as_str()),
        Err(attempted) => (None, attempted),
    };
    let name: String = name.chars().take(254).collect();
    let entry = Entry { actor_id, actor: &name, action, project, target, address };
    if let Err(e) = db::audit::append(&state.db, &entry).await {
        tracing::error!(error = %e, action, "could not append to the audit log");
    }
}
