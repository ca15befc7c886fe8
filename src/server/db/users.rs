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

/// Creates a user who has been invited and has no password yet (they cannot sign in until they
/// choose one through their invitation); `None` when the email is taken already.
pub async fn insert_invited(db: impl PgExecutor<'_>, email: &str, role: InstanceRole) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "INSERT INTO users (email, role) VALUES ($1, $2) ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
    )
    .bind(email)
    .bind(role.as_str())
    .fetch_optional(db)
    .await
}

/// A user as the Users page lists them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListedUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    /// Whether they have chosen a password (an invitation not yet accepted: no).
    pub has_password: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const LISTED: &str =
    "SELECT id, email, name, role, active, password_hash IS NOT NULL AS has_password, created_at FROM users";

/// Every user, by email.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ListedUser>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{LISTED} ORDER BY lower(email)"))).fetch_all(db).await
}

/// One user as the Users page lists them.
pub async fn listed(db: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<ListedUser>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{LISTED} WHERE id = $1"))).bind(id).fetch_optional(db).await
}

/// Sets a user's instance role; answers whether the user exists.
pub async fn set_role(db: impl PgExecutor<'_>, id: UserId, role: InstanceRole) -> sqlx::Result<bool> {
    Ok(sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
        .bind(id)
        .bind(role.as_str())
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// Deactivates or reactivates a user; answers whether the user exists.
pub async fn set_active(db: impl PgExecutor<'_>, id: UserId, active: bool) -> sqlx::Result<bool> {
    Ok(sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
        .bind(id)
        .bind(active)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// The oldest active instance admin.
pub async fn first_admin(db: impl PgExecutor<'_>) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id LIMIT 1")
        .fetch_optional(db)
        .await
}
