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

/// Which entries to read: all filters optional; `before` an entry id (older ones only).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub project: Option<ProjectId>,
    pub action: Option<String>,
    pub before: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    actor_id: Option<UserId>,
    actor: String,
    action: String,
    project_id: Option<ProjectId>,
    target: String,
    address: Option<String>,
}

/// Up to `limit` entries matching `f`, newest first (`actor` matches the email, ignoring case).
pub async fn list(db: impl PgExecutor<'_>, f: &AuditFilter, limit: i64) -> sqlx::Result<Vec<crate::model::AuditEntry>> {
    let mut qb = sqlx::QueryBuilder::new(
        "SELECT id, at, actor_id, actor, action, project_id, target, address FROM audit_log WHERE true",
    );
    if let Some(actor) = &f.actor {
        qb.push(" AND lower(actor) = lower(").push_bind(actor.clone()).push(")");
    }
    super::push_eq(&mut qb, "project_id", f.project);
    super::push_eq(&mut qb, "action", f.action.clone());
    if let Some(before) = f.before {
        qb.push(" AND id < ").push_bind(before);
    }
    qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    let rows: Vec<Row> = qb.build_query_as().fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| crate::model::AuditEntry {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            actor: r.actor,
            action: r.action,
            project_id: r.project_id,
            target: r.target,
            address: r.address,
        })
        .collect())
}
