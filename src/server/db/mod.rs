//! All SQL lives here: the pool, the migrations, and free query functions per table.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod batch;
pub mod counts;
pub mod deployment;
pub mod errors;
pub mod issues;
pub mod links;
pub mod projects;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod storage;
pub mod tokens;
pub mod users;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

/// The embedded migrations (`migrations/`), applied at start-up.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Opens the pool without waiting for the database, so the server starts (and /health reports)
/// even while PostgreSQL is down.
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    // JIT compilation costs tens of milliseconds and only pays off on long analytical queries,
    // which faultline does not run: off for its own sessions.
    let options = options.options([("jit", "off")]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// Checks that PostgreSQL answers.
pub async fn ping(db: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

/// The projects a read covers: one (the REST API's key, a chosen project), or several (the
/// dashboard's All projects list). One project keeps the plain `=` its indexes are made for.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    One(crate::model::ProjectId),
    Many(&'a [crate::model::ProjectId]),
}

impl From<crate::model::ProjectId> for Scope<'_> {
    fn from(p: crate::model::ProjectId) -> Self {
        Scope::One(p)
    }
}

impl Scope<'_> {
    /// Appends `<column> = <project>` or `<column> = ANY(<projects>)` (no `AND`).
    pub(crate) fn push(&self, qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, column: &str) {
        match self {
            Scope::One(p) => {
                qb.push(column).push(" = ").push_bind(*p);
            }
            Scope::Many(ps) => {
                let ids: Vec<i64> = ps.iter().map(|p| p.get()).collect();
                qb.push(column).push(" = ANY(").push_bind(ids).push(")");
            }
        }
    }
}

/// Appends `AND <column> = <value>` style conditions for optional filter values.
pub(crate) fn push_eq<'t, T>(qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, column: &str, value: Option<T>)
where
    T: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    if let Some(v) = value {
        qb.push(" AND ").push(column).push(" = ").push_bind(v);
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside an ILIKE pattern.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
