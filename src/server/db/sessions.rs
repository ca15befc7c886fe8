//! Queries on `sessions`: a session is found by the SHA-256 of its cookie's token.

use crate::model::{CurrentUser, InstanceRole, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// The user a live session belongs to.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub role: InstanceRole,
}

impl SessionUser {
    /// The user as the dashboard shows them.
    pub fn into_current(self) -> CurrentUser {
        CurrentUser { id: self.user, email: self.email, name: self.name, role: self.role }
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    user: UserId,
    now: DateTime<Utc>,
    address: Option<&str>,
    user_agent: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, address, user_agent)
         VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user)
    .bind(now)
    .bind(address)
    .bind(user_agent)
    .execute(db)
    .await?;
    Ok(())
}

/// The session's user when the session is live at `now`: used within `idle_since` (its last use
/// after that time), started after `started_after`, and its user active. Marks it used (at most
/// once a minute, so reads do not each write).
pub async fn find_live(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
    started_after: DateTime<Utc>,
) -> sqlx::Result<Option<SessionUser>> {
    let row: Option<(UserId, String, String, String)> = sqlx::query_as(
        "WITH live AS (
             SELECT s.token_hash, u.id, u.email, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.last_seen_at > $3 AND s.created_at > $4 AND u.active
         ), touched AS (
             UPDATE sessions SET last_seen_at = $2
             WHERE token_hash IN (SELECT token_hash FROM live) AND last_seen_at < $2 - interval '60 seconds'
         )
         SELECT id, email, name, role FROM live",
    )
    .bind(token_hash)
    .bind(now)
    .bind(idle_since)
    .bind(started_after)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(user, email, name, role)| SessionUser {
        user,
        email,
        name,
        role: role.parse().unwrap_or(InstanceRole::Member),
    }))
}

/// Ends one session (sign-out); answers whether it existed.
pub async fn delete(db: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(db).await?.rows_affected()
        > 0)
}

/// Ends every session of `user` except `keep` (a password change keeps the one making it).
pub async fn delete_others(db: impl PgExecutor<'_>, user: UserId, keep: Option<&[u8]>) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)")
        .bind(user)
        .bind(keep)
        .execute(db)
        .await?
        .rows_affected())
}

/// One of a user's live sessions, as their account page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// The live sessions of `user` (see `find_live`), most recently used first.
pub async fn list_live(
    db: impl PgExecutor<'_>,
    user: UserId,
    idle_since: DateTime<Utc>,
    started_after: DateTime<Utc>,
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT token_hash, created_at, last_seen_at, address, user_agent FROM sessions
         WHERE user_id = $1 AND last_seen_at > $2 AND created_at > $3
         ORDER BY last_seen_at DESC LIMIT 100",
    )
    .bind(user)
    .bind(idle_since)
    .bind(started_after)
    .fetch_all(db)
    .await
}

/// Ends the session `token_hash` when it is `user`'s; answers whether it was.
pub async fn delete_of_user(db: impl PgExecutor<'_>, user: UserId, token_hash: &[u8]) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
        .bind(user)
        .bind(token_hash)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}
