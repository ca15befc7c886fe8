//! Queries on `account_links`: single-use links (the first admin's set-up link, invitations,
//! password resets), found by the SHA-256 of their token.

use crate::model::UserId;
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// What a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The first admin's sign-up.
    Setup,
    /// An invited user chooses their name and password.
    Invite,
    /// A user chooses a new password.
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Setup => "setup",
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }
}

/// Makes the unused links of `user` for `purpose` stop working (a new one replaces them).
pub async fn expire_unused(
    db: impl PgExecutor<'_>,
    user: UserId,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE account_links SET expires_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(user)
    .bind(purpose.as_str())
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    purpose: Purpose,
    user: Option<UserId>,
    created_by: Option<UserId>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO account_links (token_hash, purpose, user_id, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(user)
    .bind(created_by)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks the link used when it is for `purpose`, unused and not expired at `now`; answers
/// whether it was, and its user.
/// Two requests with one link: only the first gets `Some`.
pub async fn take(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Option<UserId>>> {
    sqlx::query_scalar(
        "UPDATE account_links SET used_at = $3
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
         RETURNING user_id",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Holds, until the transaction ends, the lock that makes creating the first admin one at a time.
pub async fn lock_setup(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('faultline:first-admin'))").execute(db).await?;
    Ok(())
}
