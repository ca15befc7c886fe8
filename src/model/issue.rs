//! An issue: the group of errors that share a fingerprint, and its status.

use super::error_event::ErrorEvent;
use super::error_event::{Level, ParseEnumError, word_enum};
use super::ids::{ErrorId, IssueId, ProjectId};
use super::project::ProjectBrief;
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
    /// An ignored issue comes back (unresolved) once its event count reaches this.
    pub ignore_until_count: Option<i64>,
    /// An ignored issue comes back with its first event after this time.
    pub ignore_until: Option<DateTime<Utc>>,
}

/// How long to ignore an issue: until the next status change, until `n` more events, or until a
/// time (then the issue comes back with its first event after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreUntil {
    Forever,
    Events(i64),
    Time(DateTime<Utc>),
}

impl IgnoreUntil {
    /// The most events one can ignore an issue for.
    pub const MAX_EVENTS: i64 = 1_000_000_000;
}

/// A page of issues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueList {
    pub issues: Vec<Issue>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// An issue as the dashboard lists it: with how many users it hit and its last 24 hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueSummary {
    pub issue: Issue,
    /// Distinct users (by id, email, username or IP) among the issue's errors.
    pub users: i64,
    /// Errors per hour over the last 24 hours, oldest first (24 buckets).
    pub trend: Vec<i64>,
}

/// A page of the dashboard's issue list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssuePage {
    pub issues: Vec<IssueSummary>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// The server's time of the answer, so "3 min ago" reads the same on server and browser.
    pub now: DateTime<Utc>,
    /// Every project the caller can see (the rows name theirs; the filter offers them).
    pub projects: Vec<ProjectBrief>,
    /// The project the list is limited to, or `None` for all of them.
    pub project: Option<ProjectId>,
}

impl IssuePage {
    /// The project of this id among the caller's.
    pub fn project(&self, id: ProjectId) -> Option<&ProjectBrief> {
        self.projects.iter().find(|p| p.id == id)
    }
}

/// One issue with one of its events and the neighbours for navigation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueDetail {
    pub summary: IssueSummary,
    /// The event shown (the latest unless another was asked for).
    pub event: Option<ErrorEvent>,
    /// The next older and next newer events of the issue.
    pub older: Option<ErrorId>,
    pub newer: Option<ErrorId>,
    /// Position of the event among the issue's events, 1 = latest.
    pub position: i64,
    /// Errors per day over the last 30 days, oldest first (30 buckets).
    pub daily: Vec<i64>,
    /// Top values of the issue's tags (environment, release, browser, os, server, event tags).
    pub facets: Vec<TagFacet>,
    pub now: DateTime<Utc>,
    /// The issue's project, with the caller's role in it (what the page offers depends on it).
    pub project: ProjectBrief,
}

/// The most common values of one tag among an issue's (latest 10,000) events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagFacet {
    pub key: String,
    /// Events that have this tag.
    pub total: i64,
    /// Up to five values, most common first, with their event counts.
    pub values: Vec<(String, i64)>,
}
