//! Dashboard sessions: a random token in the browser's cookie, its SHA-256 on the server, an
//! idle timeout and an absolute lifetime (`FAULTLINE_SESSION_IDLE_DAYS`,
//! `FAULTLINE_SESSION_MAX_DAYS`). Ending a session deletes it, so its cookie stops working on
//! every instance at once.

use super::token::{SecretToken, TokenHash};
use crate::model::UserId;
use crate::server::db::{self, sessions::SessionUser};
use crate::server::error::ServerError;
use crate::server::state::AppState;
use chrono::{DateTime, Utc};

/// Starts a session for `user`; answers the token for the cookie (a new one at every sign-in).
pub async fn start(
    state: &AppState,
    user: UserId,
    address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<SecretToken, ServerError> {
    let token = SecretToken::generate("fls").map_err(|e| ServerError::Other(format!("random token: {e}")))?;
    let user_agent = user_agent.map(|ua| ua.chars().take(256).collect::<String>());
    db::sessions::insert(&state.db, &token.hash().0, user, state.clock.wall(), address, user_agent.as_deref()).await?;
    Ok(token)
}

/// Now, and the times a live session was last used after and started after.
fn live_window(state: &AppState) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let now = state.clock.wall();
    let settings = &state.settings;
    let idle_since = now - chrono::Duration::from_std(settings.session_idle).unwrap_or(chrono::Duration::days(7));
    let started_after =
        now - chrono::Duration::from_std(settings.session_lifetime).unwrap_or(chrono::Duration::days(30));
    (now, idle_since, started_after)
}

/// The user of the session whose cookie holds `token`, when it is live.
pub async fn user_of(state: &AppState, token: &str) -> Result<Option<SessionUser>, ServerError> {
    let (now, idle_since, started_after) = live_window(state);
    Ok(db::sessions::find_live(&state.db, &TokenHash::of(token).0, now, idle_since, started_after).await?)
}

/// The live sessions of `user`, most recently used first.
pub async fn list(state: &AppState, user: UserId) -> Result<Vec<db::sessions::SessionRow>, ServerError> {
    let (_, idle_since, started_after) = live_window(state);
    Ok(db::sessions::list_live(&state.db, user, idle_since, started_after).await?)
}

/// Ends the session of `token` (sign-out).
pub async fn end(state: &AppState, token: &str) -> Result<bool, ServerError> {
    Ok(db::sessions::delete(&state.db, &TokenHash::of(token).0).await?)
}

/// Ends every other session of `user` (after a password change, a reset or a deactivation).
pub async fn end_others(state: &AppState, user: UserId, keep: Option<&str>) -> Result<u64, ServerError> {
    let keep = keep.map(|t| TokenHash::of(t).0);
    Ok(db::sessions::delete_others(&state.db, user, keep.as_ref().map(|k| k.as_slice())).await?)
}
