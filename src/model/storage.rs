//! What the database holds and what retention removed: the settings page's storage panel and
//! `/api/storage`.

use super::error_event::{ParseEnumError, word_enum};
use super::ids::ProjectId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

word_enum!(
    /// Why stored errors were removed: the server's retention, the storage budget, a project's
    /// own retention, the per-issue limit, resolved issues aging out.
    RemovalReason { Retention => "retention", Budget => "budget", Project => "project", Limit => "limit", Resolved => "resolved" }
);

/// One logged removal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub at: DateTime<Utc>,
    pub reason: RemovalReason,
    /// The project it was about (none: a whole day of every project).
    pub project: Option<String>,
    /// The day dropped, for whole days.
    pub day: Option<NaiveDate>,
    pub errors: i64,
    /// Issues removed (resolved issues aging out).
    pub issues: i64,
    /// Disk space given back, where known (whole days).
    pub bytes: u64,
}

/// One project's share of the storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStorage {
    pub id: ProjectId,
    pub name: String,
    /// Errors stored now.
    pub errors: i64,
    /// Its share of the errors' partitions, by its share of their errors (an estimate).
    pub bytes: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub retention_days: u32,
    /// True when the project has a retention of its own.
    pub own_retention: bool,
}

/// What the database holds, what may be kept, and what went (`GET /api/storage`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageReport {
    /// The whole database on disk.
    pub database_bytes: u64,
    /// The errors' partitions (tables, indexes, TOAST).
    pub errors_bytes: u64,
    pub max_storage: Option<u64>,
    pub free_disk: Option<u64>,
    pub retention_days: u32,
    pub max_events_per_issue: i64,
    pub oldest: Option<DateTime<Utc>>,
    /// Why ingest refuses events now, if it does.
    pub refusing: Option<String>,
    pub projects: Vec<ProjectStorage>,
    pub removals: Vec<Removal>,
}

/// `n` bytes for people: `512 B`, `1.4 MB`, `20.0 GB` (powers of 1000).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut unit = 0;
    #[expect(clippy::cast_precision_loss, reason = "a rounded figure for display")]
    let mut value = n as f64;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_in_the_largest_fitting_unit() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1_400_000), "1.4 MB");
        assert_eq!(format_bytes(20_000_000_000), "20.0 GB");
    }
}
