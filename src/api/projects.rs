//! The dashboard's project calls: the caller's projects; create, rename, delete; members; and a
//! project's settings: DSN, API keys (list, create, revoke), DSN rotation. Reading needs any role
//! in the project; changing it needs its admin role (instance admins have it everywhere).

use crate::model::{AppError, NewApiKey, ProjectBrief, ProjectId, ProjectRole, ProjectSettings, UserId};
use leptos::prelude::*;

/// Every project the signed-in user sees, by name, with their role in each.
#[server]
pub async fn list_projects() -> Result<Vec<ProjectBrief>, AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grants = db::projects::grants(&st.db, me.user.user, me.is_admin()).await.map_err(ServerError::from)?;
    Ok(grants.iter().map(super::brief).collect())
}

/// A project just created in the dashboard, with its first API key (shown this once).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewProject {
    pub project: ProjectBrief,
    pub api_key: String,
}

/// Creates a project; the caller becomes its admin.
#[server]
pub async fn create_project(name: String) -> Result<NewProject, AppError> {
    use crate::server::{projects, state};
    let st = state()?;
    let me = super::signed_in()?;
    let name = projects::clean_name(&name).map_err(|m| AppError::Invalid(format!("name: {m}")))?;
    let created = projects::create(&st, Some(me.user.user), &name)
        .await?
        .ok_or_else(|| AppError::Invalid("name: another project has this name".into()))?;
    let p = created.project;
    super::audit(&st, &me, "project_create", Some(p.id), &format!("project {} ({})", p.id, p.name)).await;
    Ok(NewProject {
        project: ProjectBrief { id: p.id, name: p.name, slug: p.slug, role: ProjectRole::Admin },
        api_key: created.api_key,
    })
}

/// Renames a project (its slug, and so its links, stay).
#[server]
pub async fn rename_project(project: ProjectId, name: String) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, projects, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grant = super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    let name = projects::clean_name(&name).map_err(|m| AppError::Invalid(format!("name: {m}")))?;
    if db::projects::name_taken(&st.db, &name, Some(project)).await.map_err(ServerError::from)? {
        return Err(AppError::Invalid("name: another project has this name".into()));
    }
    db::projects::rename(&st.db, project, &name).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let target = format!("project {project}: {} → {name}", grant.project.name);
    super::audit(&st, &me, "project_rename", Some(project), &target).await;
    Ok(())
}

/// Deletes a project with its errors, issues and keys; `confirm` must be its name.
#[server]
pub async fn delete_project(project: ProjectId, confirm: String) -> Result<(), AppError> {
    use crate::server::{projects, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grant = super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    if confirm.trim() != grant.project.name {
        return Err(AppError::Invalid("confirm: type the project's name to delete it".into()));
    }
    if !projects::delete(&st, project).await? {
        return Err(AppError::NotFound);
    }
    let target = format!("project {project} ({})", grant.project.name);
    super::audit(&st, &me, "project_delete", Some(project), &target).await;
    Ok(())
}

/// The settings of the project with this slug (`None`: the first the caller sees): DSN, members,
/// the caller's role, and for admins the API keys.
#[server]
pub async fn get_project_settings(project: Option<String>) -> Result<ProjectSettings, AppError> {
    use crate::model::dsn;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grant = super::slug_grant(&st, &me, project.as_deref(), ProjectRole::Viewer).await?;
    let p = &grant.project;
    let keys = if grant.role == ProjectRole::Admin {
        db::api_keys::list(&st.db, p.id).await.map_err(ServerError::from)?
    } else {
        Vec::new()
    };
    let members = db::projects::members(&st.db, p.id).await.map_err(ServerError::from)?;
    Ok(ProjectSettings {
        id: p.id,
        dsn: dsn(&st.settings.public_url, &p.public_key, p.id),
        name: p.name.clone(),
        slug: p.slug.clone(),
        keys,
        members,
        role: grant.role,
    })
}

/// Creates an API key; its secret is in the answer and nowhere else.
#[server]
pub async fn create_api_key(project: ProjectId, name: String) -> Result<NewApiKey, AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::project_grant(&st, &me, project, ProjectRole::Admin).await?.project;
    let name = name.trim();
    let name = if name.is_empty() { "unnamed" } else { name };
    let name: String = name.replace('\0', "").chars().take(100).collect();
    let (key, info) = db::api_keys::create(&st.db, p.id, &name).await.map_err(ServerError::from)?;
    super::audit(&st, &me, "api_key_create", Some(p.id), &format!("key {} ({name})", info.id)).await;
    Ok(NewApiKey { info, key })
}

/// Revokes an API key; requests with it are refused from now on (on this instance at once, on
/// others within the key cache's TTL).
#[server]
pub async fn revoke_api_key(project: ProjectId, id: i64) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::project_grant(&st, &me, project, ProjectRole::Admin).await?.project;
    if !db::api_keys::revoke_by_id(&st.db, p.id, id).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "api_key_revoke", Some(p.id), &format!("key {id}")).await;
    st.keys.clear();
    Ok(())
}

/// Gives the project a new DSN key; SDKs with the old DSN are refused from now on.
#[server]
pub async fn rotate_dsn_key(project: ProjectId) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::project_grant(&st, &me, project, ProjectRole::Admin).await?.project;
    db::projects::rotate_key(&st.db, p.id).await.map_err(ServerError::from)?;
    super::audit(&st, &me, "dsn_rotate", Some(p.id), "").await;
    st.keys.clear();
    Ok(())
}

/// Makes the user with this email a member of the project with `role`, or changes their role.
#[server]
pub async fn set_member(project: ProjectId, email: String, role: ProjectRole) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::project_grant(&st, &me, project, ProjectRole::Admin).await?.project;
    let user = db::users::find_by_email(&st.db, email.trim())
        .await
        .map_err(ServerError::from)?
        .ok_or_else(|| AppError::Invalid("email: no user has this email; invite them on the Users page".into()))?;
    db::projects::set_member(&st.db, p.id, user.id, role).await.map_err(ServerError::from)?;
    let target = format!("user {} ({}) as {role}", user.id, user.email);
    super::audit(&st, &me, "member_set", Some(p.id), &target).await;
    crate::server::live::changed(&st, p.id, &[]).await;
    Ok(())
}

/// Removes a user from the project.
#[server]
pub async fn remove_member(project: ProjectId, user: UserId) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::project_grant(&st, &me, project, ProjectRole::Admin).await?.project;
    if !db::projects::remove_member(&st.db, p.id, user).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "member_remove", Some(p.id), &format!("user {user}")).await;
    Ok(())
}

/// What the project stores, the database's size and budget, and what retention removed lately;
/// an instance admin also sees every other project's share.
#[server]
pub async fn get_storage(project: ProjectId) -> Result<crate::model::StorageReport, AppError> {
    use crate::server::{retention, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Viewer).await?;
    let only = if me.is_admin() { None } else { Some(project) };
    Ok(retention::report(&st, only).await?)
}

/// Why ingest refuses events right now (the storage budget cannot be met, or PostgreSQL's disk is
/// nearly full), for the banner every dashboard page shows; `None` while it accepts them.
#[server]
pub async fn storage_notice() -> Result<Option<String>, AppError> {
    let st = crate::server::state()?;
    super::signed_in()?;
    Ok(st.storage.refusing())
}

/// Sets the project's own retention in days (`None`: the server's); the next sweep applies it.
#[server]
pub async fn set_retention(project: ProjectId, days: Option<i32>) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    if days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(AppError::Invalid("days: between 1 and 36500".into()));
    }
    db::storage::set_project_retention(&st.db, project, days).await.map_err(ServerError::from)?;
    let what = days.map_or_else(|| "server default".to_owned(), |d| format!("{d} days"));
    super::audit(&st, &me, "project_retention", Some(project), &format!("project {project}: {what}")).await;
    Ok(())
}
