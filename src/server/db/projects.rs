//! Queries on `projects`.

use crate::model::{ProjectId, ProjectKey};
use sqlx::PgExecutor;

/// A project row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub name: String,
    pub public_key: String,
}

impl ProjectRow {
    pub fn key(&self) -> Result<ProjectKey, crate::model::ProjectKeyError> {
        ProjectKey::parse(&self.public_key)
    }
}

pub async fn find_by_name(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("SELECT id, name, public_key FROM projects WHERE name = $1").bind(name).fetch_optional(db).await
}

/// The project owning a public DSN key.
pub async fn find_by_key(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<ProjectId>> {
    sqlx::query_scalar("SELECT id FROM projects WHERE public_key = $1").bind(key).fetch_optional(db).await
}

pub async fn find(db: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("SELECT id, name, public_key FROM projects WHERE id = $1").bind(id).fetch_optional(db).await
}

pub async fn insert(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<ProjectRow> {
    sqlx::query_as("INSERT INTO projects (name, public_key) VALUES ($1, $2) RETURNING id, name, public_key")
        .bind(name)
        .bind(ProjectKey::generate().as_str())
        .fetch_one(db)
        .await
}

/// Gives a project a new random public key; the old one stops authenticating.
pub async fn rotate_key(db: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("UPDATE projects SET public_key = $2 WHERE id = $1 RETURNING id, name, public_key")
        .bind(id)
        .bind(ProjectKey::generate().as_str())
        .fetch_optional(db)
        .await
}
