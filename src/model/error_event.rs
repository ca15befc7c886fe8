//! A stored error (one event) as the API and the dashboard see it, with its level and source.

use super::ids::{ErrorId, IssueId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A value outside an enum's allowed words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: {allowed}")]
pub struct ParseEnumError {
    pub allowed: &'static str,
}

/// Declares a lowercase string enum with `as_str`, `Display`, `FromStr` and `ALL`.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(ParseEnumError { allowed: concat!($($word, " "),+).trim_ascii_end() }),
                }
            }
        }
    };
}
pub(crate) use word_enum;

word_enum!(
    /// How severe an error is, most severe first.
    Level { Fatal => "fatal", Error => "error", Warning => "warning", Info => "info", Debug => "debug" }
);

word_enum!(
    /// Where an error came from.
    Source { Frontend => "frontend", Backend => "backend", Api => "api" }
);

/// One stored error, exactly as `GET /api/errors/{id}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub id: ErrorId,
    pub project_id: ProjectId,
    pub issue_id: IssueId,
    /// 32 lowercase hex characters, unique per project.
    pub event_id: String,
    pub timestamp: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub stack_trace: Option<String>,
    pub context: serde_json::Value,
    pub source: Source,
    pub url: Option<String>,
    pub fingerprint: String,
    /// True when the error's issue is resolved.
    pub resolved: bool,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub platform: Option<String>,
}

/// A page of errors, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorList {
    pub errors: Vec<ErrorEvent>,
    /// How many errors match; with a filter on the errors' own fields (level, source,
    /// environment, release, q, since, until) counting stops at 10,000.
    pub total: i64,
    /// True when `total` stopped at 10,000 (more match).
    #[serde(default)]
    pub total_capped: bool,
    pub limit: i64,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_round_trips_through_its_word() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>(), Ok(*level));
        }
        let err = "loud".parse::<Level>().unwrap_err();
        assert_eq!(err.allowed, "fatal error warning info debug");
    }

    #[test]
    fn source_serializes_lowercase() {
        assert_eq!(serde_json::to_string(&Source::Frontend).unwrap(), "\"frontend\"");
    }
}
