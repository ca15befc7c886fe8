//! List filters for errors and issues, as the REST API and the dashboard pass them.

use super::error_event::{Level, ParseEnumError, Source, word_enum};
use super::ids::IssueId;
use super::issue::IssueStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Narrowing shared by error and issue lists; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub level: Option<Level>,
    pub source: Option<Source>,
    /// `true`: only errors of resolved issues; `false`: only the others.
    pub resolved: Option<bool>,
    pub status: Option<IssueStatus>,
    pub issue_id: Option<IssueId>,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// Case-insensitive text search (message for errors; title and culprit for issues).
    pub q: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, offset: 0 }
    }
}

word_enum!(
    /// Issue list order, always descending.
    IssueSort { LastSeen => "last_seen", FirstSeen => "first_seen", Count => "count" }
);

#[expect(clippy::derivable_impls, reason = "the enum comes from a macro without #[default]")]
impl Default for IssueSort {
    fn default() -> Self {
        Self::LastSeen
    }
}
