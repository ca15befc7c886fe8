//! Totals for a project: errors by resolution, level and source, and issues by status.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: i64,
    pub unresolved: i64,
    pub resolved: i64,
    pub last_24h: i64,
    pub by_level: ByLevel,
    pub by_source: BySource,
    pub issues: IssueCounts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByLevel {
    pub fatal: i64,
    pub error: i64,
    pub warning: i64,
    pub info: i64,
    pub debug: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySource {
    pub frontend: i64,
    pub backend: i64,
    pub api: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCounts {
    pub total: i64,
    pub unresolved: i64,
    pub resolved: i64,
    pub ignored: i64,
}
