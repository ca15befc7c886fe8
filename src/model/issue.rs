//! An issue: the group of errors that share a fingerprint, and its status.

use super::error_event::{Level, ParseEnumError, word_enum};
use super::ids::{IssueId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

word_enum!(
    /// Where an issue stands in its triage.
    IssueStatus { Unresolved => "unresolved", Resolved => "resolved", Ignored => "ignored" }
);

/// One issue, exactly as `GET /api/issues/{id}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: IssueId,
    pub project_id: ProjectId,
    pub fingerprint: String,
    pub title: String,
    pub culprit: String,
    pub level: Level,
    pub status: IssueStatus,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A page of issues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueList {
    pub issues: Vec<Issue>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}
