//! Users and their roles: on the instance (admin or member) and per project (admin, member,
//! viewer).

use super::error_event::{ParseEnumError, word_enum};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's numeric id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct UserId(i64);

impl UserId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

word_enum!(
    /// What a user may do across the instance: admins manage users and every project.
    InstanceRole { Admin => "admin", Member => "member" }
);

word_enum!(
    /// What a member may do in one project: admins manage it, members also triage, viewers read.
    ProjectRole { Admin => "admin", Member => "member", Viewer => "viewer" }
);
