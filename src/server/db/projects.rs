//! Queries on `projects` and `project_members`: who sees which project with which role.

use crate::model::{Member, ProjectId, ProjectKey, ProjectRole, UserId};
use sqlx::PgExecutor;

/// A project row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub public_key: String,
}

impl ProjectRow {
    pub fn key(&self) -> Result<ProjectKey, crate::model::ProjectKeyError> {
        ProjectKey::parse(&self.public_key)
    }
}

/// A project a user can see and their role in it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Grant {
    #[sqlx(flatten)]
    pub project: ProjectRow,
    #[sqlx(try_from = "String")]
    pub role: ProjectRole,
}

impl TryFrom<String> for ProjectRole {
    type Error = crate::model::ParseEnumError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Which projects a user sees: those they are a member of, or, for an instance admin, all of
/// them as an admin.
const GRANTS: &str = "SELECT p.id, p.name, p.slug, p.public_key, CASE WHEN $2 THEN 'admin' ELSE m.role END AS role
     FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $1
     WHERE ($2 OR m.user_id IS NOT NULL)";

/// Every project `user` sees (`admin`: they are an instance admin), by name.
pub async fn grants(db: impl PgExecutor<'_>, user: UserId, admin: bool) -> sqlx::Result<Vec<Grant>> {
    let sql = format!("{GRANTS} ORDER BY lower(p.name), p.id");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(admin).fetch_all(db).await
}

/// Project `id` with `user`'s role in it, if they see it.
pub async fn grant(db: impl PgExecutor<'_>, user: UserId, admin: bool, id: ProjectId) -> sqlx::Result<Option<Grant>> {
    let sql = format!("{GRANTS} AND p.id = $3");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(admin).bind(id).fetch_optional(db).await
}

/// The project with this slug and `user`'s role in it, if they see it.
pub async fn grant_by_slug(
    db: impl PgExecutor<'_>,
    user: UserId,
    admin: bool,
    slug: &str,
) -> sqlx::Result<Option<Grant>> {
    let sql = format!("{GRANTS} AND p.slug = $3");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(admin).bind(slug).fetch_optional(db).await
}

/// The project the installation started with (the lowest id): the dashboard reports its own
/// errors there, and `FAULTLINE_API_KEY` belongs to it.
pub async fn first(db: impl PgExecutor<'_>) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("SELECT id, name, slug, public_key FROM projects ORDER BY id LIMIT 1").fetch_optional(db).await
}

/// The project owning a public DSN key.
pub async fn find_by_key(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<ProjectId>> {
    sqlx::query_scalar("SELECT id FROM projects WHERE public_key = $1").bind(key).fetch_optional(db).await
}

pub async fn find(db: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("SELECT id, name, slug, public_key FROM projects WHERE id = $1").bind(id).fetch_optional(db).await
}

/// Whether a project other than `except` has this name (names are compared ignoring case).
pub async fn name_taken(db: impl PgExecutor<'_>, name: &str, except: Option<ProjectId>) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM projects WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2)",
    )
    .bind(name)
    .bind(except)
    .fetch_one(db)
    .await
}

/// Creates a project with a new DSN key and the first free slug of `slug`, `slug-2`, `slug-3`, …;
/// `None` when the name is taken.
pub async fn insert(db: &mut sqlx::PgConnection, name: &str, slug: &str) -> sqlx::Result<Option<ProjectRow>> {
    if name_taken(&mut *db, name, None).await? {
        return Ok(None);
    }
    let taken: Vec<String> = sqlx::query_scalar("SELECT slug FROM projects WHERE slug = $1 OR slug LIKE $1 || '-%'")
        .bind(slug)
        .fetch_all(&mut *db)
        .await?;
    let free = (1..)
        .map(|n| if n == 1 { slug.to_owned() } else { format!("{slug}-{n}") })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| slug.to_owned());
    sqlx::query_as(
        "INSERT INTO projects (name, slug, public_key) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING id, name, slug, public_key",
    )
    .bind(name)
    .bind(free)
    .bind(ProjectKey::generate().as_str())
    .fetch_optional(db)
    .await
}

/// Renames a project (its slug stays); answers the row, `None` if there is no such project.
pub async fn rename(db: impl PgExecutor<'_>, id: ProjectId, name: &str) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("UPDATE projects SET name = $2 WHERE id = $1 RETURNING id, name, slug, public_key")
        .bind(id)
        .bind(name)
        .fetch_optional(db)
        .await
}

/// Deletes a project with its issues, errors, keys and memberships; answers whether it existed.
pub async fn delete(db: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM projects WHERE id = $1").bind(id).execute(db).await?.rows_affected() == 1)
}

/// Gives a project a new random public key; the old one stops authenticating.
pub async fn rotate_key(db: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as("UPDATE projects SET public_key = $2 WHERE id = $1 RETURNING id, name, slug, public_key")
        .bind(id)
        .bind(ProjectKey::generate().as_str())
        .fetch_optional(db)
        .await
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: UserId,
    email: String,
    name: String,
    #[sqlx(try_from = "String")]
    role: ProjectRole,
    active: bool,
}

/// A project's members, by email.
pub async fn members(db: impl PgExecutor<'_>, project: ProjectId) -> sqlx::Result<Vec<Member>> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.name, m.role, u.active
         FROM project_members m JOIN users u ON u.id = m.user_id
         WHERE m.project_id = $1 ORDER BY lower(u.email)",
    )
    .bind(project)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Member { user: r.user_id, email: r.email, name: r.name, role: r.role, active: r.active })
        .collect())
}

/// Makes `user` a member of `project` with `role` (or changes their role).
pub async fn set_member(
    db: impl PgExecutor<'_>,
    project: ProjectId,
    user: UserId,
    role: ProjectRole,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(project)
    .bind(user)
    .bind(role.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Removes `user` from `project`; answers whether they were a member.
pub async fn remove_member(db: impl PgExecutor<'_>, project: ProjectId, user: UserId) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project)
        .bind(user)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}
