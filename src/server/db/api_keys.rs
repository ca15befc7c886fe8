//! Queries on `api_keys`: keys are stored and looked up only by their SHA-256 hash.

use crate::model::{ApiKeyInfo, ProjectId};
use sqlx::PgExecutor;

/// Lowercase hex SHA-256 of a key.
pub fn hash(key: &str) -> String {
    crate::server::sha256_hex(key)
}

/// Stores `key` for `project` unless a key with that hash exists already (revoked or not).
pub async fn ensure(db: impl PgExecutor<'_>, project: ProjectId, name: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (project_id, name, key_hash, key_prefix) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key_hash) DO NOTHING",
    )
    .bind(project)
    .bind(name)
    .bind(hash(key))
    .bind(key.chars().take(4).collect::<String>())
    .execute(db)
    .await
    .map(|_| ())
}

/// The project of a live (not revoked) key.
pub async fn find_project(db: impl PgExecutor<'_>, key_hash: &str) -> sqlx::Result<Option<ProjectId>> {
    sqlx::query_scalar("SELECT project_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(key_hash)
        .fetch_optional(db)
        .await
}

/// Revokes a key; answers whether a live key was revoked.
pub async fn revoke(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<bool> {
    let res = sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(hash(key))
        .execute(db)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// The project's keys, newest first.
pub async fn list(db: impl PgExecutor<'_>, project: ProjectId) -> sqlx::Result<Vec<ApiKeyInfo>> {
    type Row = (i64, String, String, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, key_prefix, created_at, revoked_at FROM api_keys WHERE project_id = $1 ORDER BY id DESC",
    )
    .bind(project)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, prefix, created_at, revoked_at)| ApiKeyInfo { id, name, prefix, created_at, revoked_at })
        .collect())
}

/// Creates a random key for `project`; answers it (the only time it exists in clear) and its row.
pub async fn create(db: impl PgExecutor<'_>, project: ProjectId, name: &str) -> sqlx::Result<(String, ApiKeyInfo)> {
    let key = format!("flt_{}", uuid::Uuid::new_v4().simple());
    let prefix: String = key.chars().take(8).collect();
    let (id, created_at): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO api_keys (project_id, name, key_hash, key_prefix) VALUES ($1, $2, $3, $4) RETURNING id, created_at",
    )
    .bind(project)
    .bind(name)
    .bind(hash(&key))
    .bind(&prefix)
    .fetch_one(db)
    .await?;
    Ok((key, ApiKeyInfo { id, name: name.to_owned(), prefix, created_at, revoked_at: None }))
}

/// Revokes one of the project's keys by id; answers whether a live key was revoked.
pub async fn revoke_by_id(db: impl PgExecutor<'_>, project: ProjectId, id: i64) -> sqlx::Result<bool> {
    let res =
        sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(project)
            .bind(id)
            .execute(db)
            .await?;
    Ok(res.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(super::hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
