//! `LiveUpdate`: what the worker announces after each stored batch, per project.

use super::ids::{ErrorId, IssueId, ProjectId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveUpdate {
    pub project_id: ProjectId,
    /// Errors newly stored.
    pub errors: Vec<ErrorId>,
    /// Issues whose counts changed (including new ones).
    pub issues: Vec<IssueId>,
    /// Issues created by this batch.
    pub new_issues: Vec<IssueId>,
    /// Issues whose status changed, or that were deleted.
    #[serde(default)]
    pub status_changed: Vec<IssueId>,
}

impl LiveUpdate {
    pub fn empty(project_id: ProjectId) -> Self {
        Self { project_id, errors: vec![], issues: vec![], new_issues: vec![], status_changed: vec![] }
    }
}
