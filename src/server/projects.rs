//! Creating and deleting projects: the steps the dashboard and the REST API share (a new project
//! gets its DSN key, a first API key and its creator as admin; a deleted one takes its data and
//! keys with it at once).

use crate::model::{ProjectId, ProjectRole, UserId, slugify};
use crate::server::db::{self, projects::ProjectRow};
use crate::server::error::ServerError;
use crate::server::state::AppState;

/// The longest project name.
pub const NAME_MAX: usize = 100;

/// A project name as given, trimmed; or what is wrong with it (without the field's name).
pub fn clean_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a project needs a name".into());
    }
    if name.chars().count() > NAME_MAX {
        return Err(format!("at most {NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("no control characters".into());
    }
    Ok(name.to_owned())
}

/// A project just created, with its first API key (the only time the key is shown).
pub struct Created {
    pub project: ProjectRow,
    pub api_key: String,
}

/// Creates project `name` (already cleaned) with `creator` as its admin (none: a project made by
/// the server itself); `None` when another project has that name.
pub async fn create(state: &AppState, creator: Option<UserId>, name: &str) -> Result<Option<Created>, ServerError> {
    let mut tx = state.db.begin().await?;
    let Some(project) = db::projects::insert(&mut tx, name, &slugify(name)).await? else {
        return Ok(None);
    };
    if let Some(user) = creator {
        db::projects::set_member(&mut *tx, project.id, user, ProjectRole::Admin).await?;
    }
    let (api_key, _) = db::api_keys::create(&mut *tx, project.id, "first key").await?;
    tx.commit().await?;
    Ok(Some(Created { project, api_key }))
}

/// Deletes a project with its issues, errors, keys and memberships; its DSN and API keys stop
/// working on this instance at once (on others within the key cache's TTL). Answers whether it
/// existed.
pub async fn delete(state: &AppState, id: ProjectId) -> Result<bool, ServerError> {
    if !db::projects::delete(&state.db, id).await? {
        return Ok(false);
    }
    state.keys.clear();
    crate::server::live::changed(state, id, &[]).await;
    Ok(true)
}
