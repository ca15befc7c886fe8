//! The dashboard's account calls: sign in and out, the signed-in user, the first admin's set-up
//! through the start-up banner's one-time link, and the account page (name, password, sessions,
//! personal API tokens).

use crate::model::{Account, AppError, CurrentUser, NewApiToken, TokenScope};
use leptos::prelude::*;

/// Signs in with email and password; sets the session cookie and answers where to go next (`next`
/// when it is a path of this site). A wrong password and an unknown email get the same answer.
#[server]
pub async fn sign_in(email: String, password: String, next: String) -> Result<String, AppError> {
    use crate::server::accounts::{session, throttle};
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let (address, user_agent) = super::client()?;
    let email = email.trim();
    if let Some(retry_after) = throttle::blocked(&st, email, &address).await? {
        return Err(AppError::TooManyAttempts { retry_after });
    }
    let user = db::users::find_by_email(&st.db, email).await.map_err(ServerError::from)?.filter(|u| u.active);
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let matches = st.passwords.verify(&password, stored).await.map_err(password_error)?;
    let Some(user) = user.filter(|_| matches) else {
        throttle::failed(&st, email, &address).await?;
        crate::server::audit::record(&st, Err(email), "sign_in_failed", None, "", Some(&address)).await;
        tracing::info!(address = %address, "failed sign-in");
        return Err(AppError::WrongCredentials);
    };
    throttle::succeeded(&st, email, &address).await?;
    let token = session::start(&st, user.id, Some(&address), user_agent.as_deref()).await?;
    set_cookie(crate::server::accounts::cookie::set(&st.settings, token.expose()));
    let who = crate::server::db::sessions::SessionUser {
        user: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role(),
    };
    crate::server::audit::record(&st, Ok(&who), "sign_in", None, "", Some(&address)).await;
    tracing::info!(user.id = %user.id, address = %address, "signed in");
    Ok(crate::model::safe_next(&next).to_owned())
}

/// Ends this session on the server (its cookie stops working everywhere at once).
#[server]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::accounts::{cookie, session};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    session::end(&st, &me.token).await?;
    set_cookie(cookie::clear(&st.settings));
    super::audit(&st, &me, "sign_out", None, "").await;
    tracing::info!(user.id = %me.user.user, "signed out");
    Ok(())
}

/// The signed-in user.
#[server]
pub async fn signed_in_user() -> Result<CurrentUser, AppError> {
    Ok(super::signed_in()?.user.into_current())
}

/// Creates the first admin through the one-time link `/setup/<token>` printed at start-up (only
/// while no user exists), and signs them in.
#[server]
pub async fn complete_setup(token: String, email: String, name: String, password: String) -> Result<(), AppError> {
    use crate::model::InstanceRole;
    use crate::server::accounts::{looks_like_email, password, session, token::TokenHash};
    use crate::server::db::{self, links::Purpose};
    use crate::server::error::ServerError;
    let st = crate::server::state()?;
    let (address, user_agent) = super::client()?;
    let email = email.trim();
    if !looks_like_email(email) {
        return Err(AppError::Invalid("Email: enter an email address".into()));
    }
    let name: String = name.trim().replace('\0', "").chars().take(100).collect();
    password::check_new(&password).map_err(|e| AppError::Invalid(format!("Password: {e}")))?;
    let hash = st.passwords.hash(&password).await.map_err(password_error)?;
    let now = st.clock.wall();
    let mut tx = st.db.begin().await.map_err(ServerError::from)?;
    db::links::lock_setup(&mut *tx).await.map_err(ServerError::from)?;
    let existing = db::users::count(&mut *tx).await.map_err(ServerError::from)?;
    let taken =
        db::links::take(&mut *tx, &TokenHash::of(&token).0, Purpose::Setup, now).await.map_err(ServerError::from)?;
    if existing > 0 || taken.is_none() {
        return Err(AppError::Invalid("This set-up link was used already or has expired; sign in instead.".into()));
    }
    let user = db::users::create(&mut *tx, email, &name, &hash, InstanceRole::Admin)
        .await
        .map_err(ServerError::from)?
        .ok_or_else(|| AppError::Invalid("Email: this address has an account already".into()))?;
    tx.commit().await.map_err(ServerError::from)?;
    let token = session::start(&st, user, Some(&address), user_agent.as_deref()).await?;
    set_cookie(crate::server::accounts::cookie::set(&st.settings, token.expose()));
    let who =
        crate::server::db::sessions::SessionUser { user, email: email.to_owned(), name, role: InstanceRole::Admin };
    crate::server::audit::record(&st, Ok(&who), "first_admin_created", None, email, Some(&address)).await;
    tracing::info!(user.id = %user, "first admin created through the set-up link");
    Ok(())
}

#[cfg(feature = "ssr")]
pub(super) fn set_cookie(value: axum::http::HeaderValue) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.append_header(axum::http::header::SET_COOKIE, value);
    }
}

#[cfg(feature = "ssr")]
pub(super) fn password_error(e: crate::server::accounts::password::PasswordError) -> AppError {
    use crate::server::accounts::password::PasswordError;
    match e {
        PasswordError::TooShort | PasswordError::TooLong => AppError::Invalid(format!("Password: {e}")),
        PasswordError::Busy => AppError::Unavailable,
        PasswordError::Internal(_) => {
            tracing::error!(error = %e, "password hashing failed");
            AppError::Unavailable
        }
    }
}

/// The signed-in user's account: who they are and their live sessions.
#[server]
pub async fn get_account() -> Result<Account, AppError> {
    use crate::server::accounts::{session, token::TokenHash};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    let current = TokenHash::of(&me.token);
    let sessions = session::list(&st, me.user.user)
        .await?
        .into_iter()
        .map(|s| crate::model::SessionInfo {
            current: s.token_hash == current.0,
            id: crate::server::to_hex(&s.token_hash),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            address: s.address,
            user_agent: s.user_agent,
        })
        .collect();
    let tokens = crate::server::db::tokens::list(&st.db, me.user.user, st.clock.wall())
        .await
        .map_err(crate::server::error::ServerError::from)?;
    // The guard read the user with the session, on this request.
    Ok(Account { user: me.user.into_current(), sessions, tokens })
}

/// Sets the signed-in user's name (at most 100 characters).
#[server]
pub async fn rename_account(name: String) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    let name: String = name.trim().replace('\0', "").chars().take(100).collect();
    db::users::set_name(&st.db, me.user.user, &name).await.map_err(ServerError::from)?;
    Ok(())
}

/// Changes the signed-in user's password (the current one is needed) and ends their other
/// sessions.
#[server]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    use crate::server::accounts::{password, session};
    use crate::server::{db, error::ServerError};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    let user = db::users::find(&st.db, me.user.user).await.map_err(ServerError::from)?.ok_or(AppError::Unauthorized)?;
    if !st.passwords.verify(&current, user.password_hash.as_deref()).await.map_err(password_error)? {
        return Err(AppError::Invalid("Current password: this is not your password".into()));
    }
    password::check_new(&new).map_err(|e| AppError::Invalid(format!("New password: {e}")))?;
    let hash = st.passwords.hash(&new).await.map_err(password_error)?;
    db::users::set_password(&st.db, user.id, &hash).await.map_err(ServerError::from)?;
    let ended = session::end_others(&st, user.id, Some(&me.token)).await?;
    super::audit(&st, &me, "password_change", None, &format!("{ended} other sessions ended")).await;
    tracing::info!(user.id = %user.id, sessions.ended = ended, "password changed");
    Ok(())
}

/// Ends one of the signed-in user's sessions (by the id the account page lists).
#[server]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::server::accounts::{cookie, token::TokenHash};
    use crate::server::{db, error::ServerError};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    let hash = TokenHash::from_hex(&id).ok_or(AppError::NotFound)?;
    if !db::sessions::delete_of_user(&st.db, me.user.user, &hash.0).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    if hash == TokenHash::of(&me.token) {
        set_cookie(cookie::clear(&st.settings));
    }
    super::audit(&st, &me, "session_end", None, &format!("session {}", &id[..12.min(id.len())])).await;
    Ok(())
}

/// Makes a personal API token for the signed-in user; `expires` is empty (never) or a day
/// (`YYYY-MM-DD`, the token works until that day ends, UTC). The token is in the answer only.
#[server]
pub async fn create_token(name: String, scope: TokenScope, expires: String) -> Result<NewApiToken, AppError> {
    use crate::server::accounts::tokens;
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    let expires_at = match expires.trim() {
        "" => None,
        day => {
            let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| AppError::Invalid("Expires: a day as YYYY-MM-DD".into()))?;
            let end = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
            let end = end.ok_or_else(|| AppError::Invalid("Expires: a day as YYYY-MM-DD".into()))?;
            if end <= st.clock.wall() {
                return Err(AppError::Invalid("Expires: a day in the future".into()));
            }
            Some(end)
        }
    };
    let made = tokens::create(&st, me.user.user, &name, scope, expires_at).await?;
    super::audit(&st, &me, "token_create", None, &format!("token {} ({}, {scope})", made.info.id, made.info.name))
        .await;
    Ok(made)
}

/// Revokes one of the signed-in user's tokens.
#[server]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    use crate::server::{db, error::ServerError};
    let st = crate::server::state()?;
    let me = super::signed_in()?;
    if !db::tokens::revoke(&st.db, me.user.user, id).await.map_err(ServerError::from)? {
        return Err(AppError::NotFound);
    }
    super::audit(&st, &me, "token_revoke", None, &format!("token {id}")).await;
    Ok(())
}
