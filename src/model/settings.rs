//! Project settings as the dashboard shows them: the DSN, the API keys (never their secret), the
//! members and the caller's role.

use super::ids::ProjectId;
use super::project::Member;
use super::user::ProjectRole;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An API key as listed: a short prefix to recognise it, never the key itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSettings {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub dsn: String,
    /// Listed for project admins only.
    pub keys: Vec<ApiKeyInfo>,
    pub members: Vec<Member>,
    /// The caller's role here (instance admins are admins everywhere).
    pub role: ProjectRole,
}

/// A key just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub info: ApiKeyInfo,
    pub key: String,
}
