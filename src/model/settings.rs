//! Project settings as the dashboard shows them: the DSN and the API keys (never their secret).

use super::ids::ProjectId;
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
    pub dsn: String,
    pub keys: Vec<ApiKeyInfo>,
}

/// A key just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub info: ApiKeyInfo,
    pub key: String,
}
