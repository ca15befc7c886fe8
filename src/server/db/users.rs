//! Queries on `users`.

use crate::model::{InstanceRole, UserId};
use sqlx::PgExecutor;

/// A user row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub active: bool,
}

impl UserRow {
    /// The instance role (an unknown stored word reads as the lesser role).
    pub fn role(&self) -> InstanceRole {
        self.role.parse().unwrap_or(InstanceRole::Member)
    }
}

/// Makes sure an active instance admin with `email` exists and has `password_hash` (the
/// configured first admin, set again at every start); answers its id.
pub async fn ensure_admin(db: impl PgExecutor<'_>, email: &str, password_hash: &str) -> sqlx::Result<UserId> {
    sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, role, active) VALUES ($1, $2, 'admin', true)
         ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = 'admin', active = true
         RETURNING id",
    )
    .bind(email)
    .bind(password_hash)
    .fetch_one(db)
    .await
}

/// The user with `email`, whatever its case.
pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, name, password_hash, role, active FROM users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// How many users exist (none: the instance still needs its first admin).
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(db).await
}

/// Creates an active user; `None` when the email is taken already.
pub async fn create(
    db: impl PgExecutor<'_>,
    email: &str,
    name: &str,
    password_hash: &str,
    role: InstanceRole,
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
    )
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_optional(db)
    .await
}

/// The user with `id`.
pub async fn find(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, name, password_hash, role, active FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_name(db: impl PgExecutor<'_>, id: UserId, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET name = $2 WHERE id = $1").bind(id).bind(name).execute(db).await?;
    Ok(())
}

pub async fn set_password(db: impl PgExecutor<'_>, id: UserId, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1").bind(id).bind(password_hash).execute(db).await?;
    Ok(())
}
