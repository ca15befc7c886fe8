//! A project as shown to its own API key: id, name and the DSN SDKs send to.

use super::ids::ProjectId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    /// `{scheme}://{public_key}@{host}/{id}`: what an SDK is configured with.
    pub dsn: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}
