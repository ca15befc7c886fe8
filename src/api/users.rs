//! The Users page's calls (instance admins only): list users, invite by link, change a user's
//! instance role, deactivate and reactivate (ending their sessions), issue a password-reset
//! link; and the two public calls behind those links: accepting an invitation and choosing a new
//! password.

use crate::model::{AppError, InstanceRole, UserId};
use leptos::prelude::*;

/// A user as the Users page lists them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserInfo {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: InstanceRole,
    pub active: bool,
    /// Invited, and the invitation not accepted yet.
    pub pending: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The signed-in instance admin (`Forbidden` for anyone else).
#[cfg(feature = "ssr")]
fn instance_admin() -> Result<crate::server::accounts::guard::SignedIn, AppError> {
    let me = super::signed_in()?;
    if me.is_admin() { Ok(me) } else { Err(AppError::Forbidden) }
}

/// Every user.
#[server]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    instance_admin()?;
    let users = db::users::list(&st.db).await.map_err(ServerError::from)?;
    Ok(users
        .into_iter()
        .map(|u| UserInfo {
            role: u.role.parse().unwrap_or(InstanceRole::Member),
            id: u.id,
            email: u.email,
            name: u.name,
            active: u.active,
            pending: !u.has_password,
            created_at: u.created_at,
        })
        .collect())
}

/// Invites `email` with an instance role; answers the invitation link to pass on (single use,
/// 7 days).
#[server]
pub async fn invite_user(email: String, role: InstanceRole) -> Result<String, AppError> {
    use crate::server::accounts::links::{self, InviteError};
    use crate::server::state;
    let st = state()?;
    let me = instance_admin()?;
    let (user, link) = links::invite(&st, &email, role, me.user.user).await.map_err(|e| match e {
        InviteError::Server(e) => AppError::from(e),
        other => AppError::Invalid(other.to_string()),
    })?;
    super::audit(&st, &me, "user_invite", None, &format!("user {user} ({}) as {role}", email.trim())).await;
    Ok(link.url)
}

/// Refuses an admin's change to their own account from the Users page (they would lock
/// themselves out; another admin can do it).
#[cfg(feature = "ssr")]
fn not_self(me: &crate::server::accounts::guard::SignedIn, user: UserId) -> Result<(), AppError> {
    if me.user.user == user {
        Err(AppError::Invalid("You cannot change your own role or access.".into()))
    } else {
        Ok(())
    }
}

/// Sets a user's instance role.
#[server]
pub async fn set_user_role(user: UserId, role: InstanceRole) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = instance_admin()?;
    not_self(&me, user)?;
    if !db::users::set_role(&st.db, user, role).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "user_role", None, &format!("user {user} → {role}")).await;
    Ok(())
}

/// Deactivates a user (their sessions end at once, their tokens stop working) or reactivates
/// them.
#[server]
pub async fn set_user_active(user: UserId, active: bool) -> Result<(), AppError> {
    use crate::server::{accounts::links, state};
    let st = state()?;
    let me = instance_admin()?;
    not_self(&me, user)?;
    let action = links::set_active(&st, user, active).await?.ok_or(AppError::NotFound)?;
    super::audit(&st, &me, action, None, &format!("user {user}")).await;
    Ok(())
}

/// A password-reset link for a user (single use, 7 days), to pass on to them.
#[server]
pub async fn reset_link(user: UserId) -> Result<String, AppError> {
    use crate::server::accounts::links;
    use crate::server::db::{self, links::Purpose};
    use crate::server::{error::ServerError, state};
    let st = state()?;
    let me = instance_admin()?;
    db::users::find(&st.db, user).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let link = links::issue(&st, user, Purpose::Reset, me.user.user).await?;
    super::audit(&st, &me, "password_reset_link", None, &format!("user {user}")).await;
    Ok(link.url)
}

/// Accepts an invitation: the invited user chooses a name and password and is signed in.
#[server]
pub async fn accept_invite(token: String, name: String, password: String) -> Result<(), AppError> {
    use crate::server::db::links::Purpose;
    let name: String = name.trim().replace('\0', "").chars().take(100).collect();
    if name.is_empty() {
        return Err(AppError::Invalid("Name: tell your team who you are".into()));
    }
    set_password_through(&token, Purpose::Invite, Some(&name), &password, "invite_accepted").await
}

/// Chooses a new password through a reset link; every other session of the user ends, and they
/// are signed in.
#[server]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::server::db::links::Purpose;
    set_password_through(&token, Purpose::Reset, None, &password, "password_reset").await
}

/// Uses the link `token` (once) to set the password (and name) of its user, ends their sessions
/// and signs them in.
#[cfg(feature = "ssr")]
async fn set_password_through(
    token: &str,
    purpose: crate::server::db::links::Purpose,
    name: Option<&str>,
    password: &str,
    action: &str,
) -> Result<(), AppError> {
    use crate::server::accounts::{password as passwords, session, token::TokenHash};
    use crate::server::{db, error::ServerError};
    let st = crate::server::state()?;
    let (address, user_agent) = super::client()?;
    passwords::check_new(password).map_err(|e| AppError::Invalid(format!("Password: {e}")))?;
    let hash = st.passwords.hash(password).await.map_err(super::account::password_error)?;
    let mut tx = st.db.begin().await.map_err(ServerError::from)?;
    let user = db::links::take(&mut *tx, &TokenHash::of(token).0, purpose, st.clock.wall())
        .await
        .map_err(ServerError::from)?
        .flatten()
        .ok_or_else(|| {
            AppError::Invalid("This link was used already or has expired; ask an admin for a new one.".into())
        })?;
    db::users::set_password(&mut *tx, user, &hash).await.map_err(ServerError::from)?;
    if let Some(name) = name {
        db::users::set_name(&mut *tx, user, name).await.map_err(ServerError::from)?;
    }
    tx.commit().await.map_err(ServerError::from)?;
    let row = db::users::find(&st.db, user).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    session::end_others(&st, user, None).await?;
    if !row.active {
        return Err(AppError::Invalid("This account is deactivated; ask an admin.".into()));
    }
    let token = session::start(&st, user, Some(&address), user_agent.as_deref()).await?;
    super::account::set_cookie(crate::server::accounts::cookie::set(&st.settings, token.expose()));
    let role = row.role();
    let who = crate::server::db::sessions::SessionUser { user, email: row.email.clone(), name: row.name, role };
    crate::server::audit::record(&st, Ok(&who), action, None, &row.email, Some(&address)).await;
    Ok(())
}

/// A page of the audit log for instance admins, newest first: filtered by the actor's email,
/// a project id and an action (empty: any), older than entry `before` when given.
#[server]
pub async fn list_audit(
    actor: String,
    project: String,
    action: String,
    before: Option<i64>,
) -> Result<crate::model::AuditPage, AppError> {
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    instance_admin()?;
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let project = match text(&project) {
        Some(p) => Some(p.parse::<i64>().map_err(|_| AppError::Invalid("Project: a project id".into()))?),
        None => None,
    };
    let filter = db::audit::AuditFilter {
        actor: text(&actor),
        project: project.map(crate::model::ProjectId::new),
        action: text(&action),
        before,
    };
    let entries = db::audit::list(&st.db, &filter, AUDIT_PAGE).await.map_err(ServerError::from)?;
    Ok(crate::server::rest::audit_page(entries, AUDIT_PAGE))
}

/// Entries on one page of the dashboard's audit log.
#[cfg(feature = "ssr")]
const AUDIT_PAGE: i64 = 50;
