//! Newtypes for the ids and keys that cross the wire, parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A project's numeric id (the last segment of its DSN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct ProjectId(i64);

/// An issue's numeric id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct IssueId(i64);

/// A stored error's id, handed out by ingest before the error is processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct ErrorId(Uuid);

macro_rules! int_id {
    ($name:ident) => {
        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }
            pub const fn get(self) -> i64 {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}
int_id!(ProjectId);
int_id!(IssueId);

impl ErrorId {
    /// A new, time-ordered id (UUIDv7): ids handed out close in time sit next to each other in
    /// the primary-key index, so storing them appends at its right edge instead of dirtying
    /// random pages (and writing their full images to the WAL after every checkpoint).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ErrorId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A project's public DSN key: exactly 32 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a project key is 32 lowercase hex characters")]
pub struct ProjectKeyError;

impl ProjectKey {
    pub fn parse(s: &str) -> Result<Self, ProjectKeyError> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok { Ok(Self(s.to_owned())) } else { Err(ProjectKeyError) }
    }
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectKey {
    type Error = ProjectKeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ProjectKey> for String {
    fn from(k: ProjectKey) -> Self {
        k.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_key_accepts_only_32_lowercase_hex() {
        assert!(ProjectKey::parse("0123456789abcdef0123456789abcdef").is_ok());
        assert!(ProjectKey::parse("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(ProjectKey::parse("0123456789abcdef").is_err());
        assert!(ProjectKey::parse("0123456789abcdef0123456789abcdeg").is_err());
    }

    #[test]
    fn generated_project_keys_are_valid_and_distinct() {
        let a = ProjectKey::generate();
        let b = ProjectKey::generate();
        assert!(ProjectKey::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
    }
}
