//! Personal API tokens: made on the account page or through `POST /api/tokens`, shown once,
//! sent as `Authorization: Bearer <token>`; they act as their user within their scope and stop
//! working when revoked, expired, or their user is deactivated.

use super::token::{SecretToken, TokenHash};
use crate::model::{NewApiToken, TokenScope, UserId};
use crate::server::db::{self, sessions::SessionUser};
use crate::server::error::ServerError;
use crate::server::state::AppState;
use chrono::{DateTime, Utc};

/// The longest token name.
pub const NAME_MAX: usize = 100;

/// A token name as given, trimmed (`unnamed` when empty).
pub fn clean_name(name: &str) -> String {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).take(NAME_MAX).collect();
    if name.is_empty() { "unnamed".into() } else { name }
}

/// Makes a token for `user`; its text is in the answer and nowhere else.
pub async fn create(
    state: &AppState,
    user: UserId,
    name: &str,
    scope: TokenScope,
    expires_at: Option<DateTime<Utc>>,
) -> Result<NewApiToken, ServerError> {
    let token = SecretToken::generate("flu").map_err(|e| ServerError::Other(format!("random token: {e}")))?;
    let prefix: String = token.expose().chars().take(10).collect();
    let info =
        db::tokens::insert(&state.db, user, &clean_name(name), &token.hash().0, &prefix, scope, expires_at).await?;
    Ok(NewApiToken { info, token: token.expose().to_owned() })
}

/// The token's id, scope and user when the token works now.
pub async fn user_of(state: &AppState, text: &str) -> Result<Option<(i64, TokenScope, SessionUser)>, ServerError> {
    Ok(db::tokens::find_live(&state.db, &TokenHash::of(text).0, state.clock.wall()).await?)
}
