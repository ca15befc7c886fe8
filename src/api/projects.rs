//! The dashboard's project settings calls: DSN, API keys (list, create, revoke), DSN rotation.

use crate::model::{AppError, NewApiKey, ProjectSettings};
use leptos::prelude::*;

/// The DSN and keys of the project the dashboard shows.
#[server]
pub async fn get_project_settings() -> Result<ProjectSettings, AppError> {
    use crate::model::dsn;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    super::signed_in()?;
    let p = super::dashboard_project(&st).await?;
    let keys = db::api_keys::list(&st.db, p.id).await.map_err(ServerError::from)?;
    Ok(ProjectSettings { id: p.id, dsn: dsn(&st.settings.public_url, &p.public_key, p.id), name: p.name, keys })
}

/// Creates an API key; its secret is in the answer and nowhere else.
#[server]
pub async fn create_api_key(name: String) -> Result<NewApiKey, AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let name = name.trim();
    let name = if name.is_empty() { "unnamed" } else { name };
    let name: String = name.replace('\0', "").chars().take(100).collect();
    let p = super::dashboard_project(&st).await?;
    let (key, info) = db::api_keys::create(&st.db, p.id, &name).await.map_err(ServerError::from)?;
    super::audit(&st, &me, "api_key_create", Some(p.id), &format!("key {} ({name})", info.id)).await;
    Ok(NewApiKey { info, key })
}

/// Revokes an API key; requests with it are refused from now on (on this instance at once, on
/// others within the key cache's TTL).
#[server]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::dashboard_project(&st).await?;
    if !db::api_keys::revoke_by_id(&st.db, p.id, id).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "api_key_revoke", Some(p.id), &format!("key {id}")).await;
    st.keys.clear();
    Ok(())
}

/// Gives the project a new DSN key; SDKs with the old DSN are refused from now on.
#[server]
pub async fn rotate_dsn_key() -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::dashboard_project(&st).await?;
    db::projects::rotate_key(&st.db, p.id).await.map_err(ServerError::from)?;
    super::audit(&st, &me, "dsn_rotate", Some(p.id), "").await;
    st.keys.clear();
    Ok(())
}
