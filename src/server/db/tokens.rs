//! Queries on `api_tokens`: personal API tokens, found by the SHA-256 of their text.

use crate::model::{ApiTokenInfo, TokenScope, UserId};
use crate::server::db::sessions::SessionUser;
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    #[sqlx(try_from = "String")]
    scope: TokenScope,
    prefix: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<String> for TokenScope {
    type Error = crate::model::ParseEnumError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TokenRow> for ApiTokenInfo {
    fn from(r: TokenRow) -> Self {
        ApiTokenInfo {
            id: r.id,
            name: r.name,
            scope: r.scope,
            prefix: r.prefix,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        }
    }
}

const COLUMNS: &str = "id, name, scope, prefix, created_at, expires_at, last_used_at";

/// Stores a new token of `user`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    user: UserId,
    name: &str,
    token_hash: &[u8],
    prefix: &str,
    scope: TokenScope,
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<ApiTokenInfo> {
    let sql = format!(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {COLUMNS}"
    );
    let row: TokenRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(name)
        .bind(token_hash)
        .bind(prefix)
        .bind(scope.as_str())
        .bind(expires_at)
        .fetch_one(db)
        .await?;
    Ok(row.into())
}

/// Makes sure `user` has the token with this hash, live and with `scope` (the configured
/// `FAULTLINE_ADMIN_TOKEN`, set again at every start).
pub async fn ensure(
    db: impl PgExecutor<'_>,
    user: UserId,
    name: &str,
    token_hash: &[u8],
    scope: TokenScope,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope) VALUES ($1, $2, $3, '', $4)
         ON CONFLICT (token_hash) DO UPDATE
         SET user_id = EXCLUDED.user_id, scope = EXCLUDED.scope, revoked_at = NULL, expires_at = NULL",
    )
    .bind(user)
    .bind(name)
    .bind(token_hash)
    .bind(scope.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// A token that works at `now` (not revoked, not expired, its user active): its id, scope and
/// user. Marks it used (at most once a minute, so reads do not each write).
pub async fn find_live(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<Option<(i64, TokenScope, SessionUser)>> {
    type Row = (i64, String, UserId, String, String, String);
    let row: Option<Row> = sqlx::query_as(
        "WITH live AS (
             SELECT t.id, t.scope, u.id AS user_id, u.email, u.name, u.role
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.active
         ), touched AS (
             UPDATE api_tokens SET last_used_at = $2
             WHERE id IN (SELECT id FROM live) AND (last_used_at IS NULL OR last_used_at < $2 - interval '60 seconds')
         )
         SELECT id, scope, user_id, email, name, role FROM live",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(id, scope, user, email, name, role)| {
        let scope = scope.parse().ok()?;
        let role = role.parse().unwrap_or(crate::model::InstanceRole::Member);
        Some((id, scope, SessionUser { user, email, name, role }))
    }))
}

/// The live tokens of `user`, newest first.
pub async fn list(db: impl PgExecutor<'_>, user: UserId, now: DateTime<Utc>) -> sqlx::Result<Vec<ApiTokenInfo>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC"
    );
    let rows: Vec<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(now).fetch_all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Revokes one of `user`'s tokens; answers whether a live one was revoked.
pub async fn revoke(db: impl PgExecutor<'_>, user: UserId, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(user)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}
