//! What `faultline doctor` reads from PostgreSQL: its version, the settings that decide whether a
//! commit survives a crash, and the migrations applied.

use sqlx::PgPool;

/// `server_version`, e.g. `15.19 (Debian 15.19-0+deb12u1)`.
pub async fn server_version(db: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar("SHOW server_version").fetch_one(db).await
}

/// `fsync` and `synchronous_commit` as this connection sees them (a database's or role's own
/// setting included).
pub async fn durability(db: &PgPool) -> sqlx::Result<(String, String)> {
    sqlx::query_as("SELECT current_setting('fsync'), current_setting('synchronous_commit')").fetch_one(db).await
}

/// Every migration recorded in the database: its version and whether it finished; `None` when
/// no migration ever ran here.
pub async fn applied_migrations(db: &PgPool) -> sqlx::Result<Option<Vec<(i64, bool)>>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(db).await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version").fetch_all(db).await?;
    Ok(Some(rows))
}
