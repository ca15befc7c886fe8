//! Queries on `audit_log` (append-only: the table's trigger refuses changes).

use crate::model::{ProjectId, UserId};
use sqlx::PgExecutor;

/// One entry to append.
pub struct Entry<'a> {
    pub actor_id: Option<UserId>,
    pub actor: &'a str,
    pub action: &'a str,
    pub project: Option<ProjectId>,
    pub target: &'a str,
    pub address: Option<&'a str>,
}

pub async fn append(db: impl PgExecutor<'_>, e: &Entry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor, action, project_id, target, address) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.actor_id)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.project)
    .bind(e.target)
    .bind(e.address)
    .execute(db)
    .await?;
    Ok(())
}
