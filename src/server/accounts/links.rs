//! Invitations, password-reset links and a user's access: single use, 7 days, absolute URLs on
//! `FAULTLINE_PUBLIC_URL` that an admin passes on, and that are also emailed to the user when
//! `FAULTLINE_SMTP_URL` is set. Only the SHA-256 of a link's token is stored; a new link for
//! the same user and purpose replaces the old one.

use super::token::SecretToken;
use crate::model::{InstanceRole, UserId};
use crate::server::db::{self, links::Purpose};
use crate::server::error::ServerError;
use crate::server::state::AppState;

/// How long an invitation or reset link works.
pub const LINK_DAYS: i64 = 7;

/// A link as made: its URL, and whether it also went to the user by email.
#[derive(Clone, Debug)]
pub struct Link {
    pub url: String,
    pub emailed: bool,
}

/// A new link for `user` (made by `by`), replacing their unused ones for the same purpose;
/// emailed to them when email is configured.
pub async fn issue(state: &AppState, user: UserId, purpose: Purpose, by: UserId) -> Result<Link, ServerError> {
    let url = make(state, user, purpose, by).await?;
    let emailed = match db::users::find(&state.db, user).await? {
        Some(u) => mail(state, &u.email, purpose, &url).await,
        None => false,
    };
    Ok(Link { url, emailed })
}

/// Sends a link by email; answers whether the relay took it (failures are logged, the link
/// stands: the admin can pass it on).
async fn mail(state: &AppState, to: &str, purpose: Purpose, url: &str) -> bool {
    let Some(mailer) = state.alerts.mailer() else { return false };
    let (subject, intro) = match purpose {
        Purpose::Invite => {
            ("You are invited to faultline", "You are invited to faultline, the error tracker of your team.")
        }
        Purpose::Reset => (
            "Choose a new faultline password",
            "Someone (an admin of your faultline) made you a link to choose a new password.",
        ),
        Purpose::Setup => ("Set up faultline", "Set up the first admin account of this faultline."),
    };
    let text = format!("{intro}\n\nOpen this link within {LINK_DAYS} days (it works once):\n{url}\n");
    let esc = crate::server::alerts::render::html_escape;
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{}</p><p><a href=\"{u}\">{u}</a></p>\
         <p style=\"color:#666\">The link works once, for {LINK_DAYS} days.</p></body></html>",
        esc(intro),
        u = esc(url)
    );
    let mail = crate::server::alerts::email::Outgoing {
        id: uuid::Uuid::new_v4(),
        subject,
        text: &text,
        html: &html,
        unsubscribe: None,
    };
    match mailer.send(to, &mail).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e.message, "could not email a link; pass it on by hand");
            false
        }
    }
}

async fn make(state: &AppState, user: UserId, purpose: Purpose, by: UserId) -> Result<String, ServerError> {
    let (prefix, path) = match purpose {
        Purpose::Invite => ("fli", "invite"),
        Purpose::Reset => ("flr", "reset"),
        Purpose::Setup => ("fsu", "setup"),
    };
    let token = SecretToken::generate(prefix).map_err(|e| ServerError::Other(format!("random token: {e}")))?;
    let now = state.clock.wall();
    let mut tx = state.db.begin().await?;
    db::links::expire_unused(&mut *tx, user, purpose, now).await?;
    let expires = now + chrono::Duration::days(LINK_DAYS);
    db::links::insert(&mut *tx, &token.hash().0, purpose, Some(user), Some(by), expires).await?;
    tx.commit().await?;
    let base = state.settings.public_url.trim_end_matches('/');
    Ok(format!("{base}/{path}/{}", token.expose()))
}

/// Why an invitation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("email: enter an email address")]
    NotAnEmail,
    #[error("email: this address has an account already")]
    Taken,
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Invites `email` with instance role `role`: a user without a password, and their invitation
/// link (emailed to them when email is configured). Inviting an address whose invitation is
/// still open sends a new link (the old one stops working) with the new role.
pub async fn invite(
    state: &AppState,
    email: &str,
    role: InstanceRole,
    by: UserId,
) -> Result<(UserId, Link), InviteError> {
    let email = email.trim();
    if !super::looks_like_email(email) {
        return Err(InviteError::NotAnEmail);
    }
    let db_err = |e: sqlx::Error| InviteError::Server(e.into());
    let user = match db::users::insert_invited(&state.db, email, role).await.map_err(db_err)? {
        Some(user) => user,
        None => {
            let existing =
                db::users::find_by_email(&state.db, email).await.map_err(db_err)?.ok_or(InviteError::Taken)?;
            if existing.password_hash.is_some() {
                return Err(InviteError::Taken);
            }
            db::users::set_role(&state.db, existing.id, role).await.map_err(db_err)?;
            existing.id
        }
    };
    let link = issue(state, user, Purpose::Invite, by).await?;
    Ok((user, link))
}

/// Deactivates a user (their sessions end at once; their tokens stop, as every token lookup
/// checks the user) or reactivates them; answers the audit action, or `None` if no such user.
pub async fn set_active(state: &AppState, user: UserId, active: bool) -> Result<Option<&'static str>, ServerError> {
    if !db::users::set_active(&state.db, user, active).await? {
        return Ok(None);
    }
    if active {
        return Ok(Some("user_reactivate"));
    }
    super::session::end_others(state, user, None).await?;
    Ok(Some("user_deactivate"))
}
