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

impl ProjectRole {
    /// Whether this role may do what `needed` may: admin > member > viewer.
    pub fn allows(self, needed: ProjectRole) -> bool {
        let rank = |r: ProjectRole| match r {
            ProjectRole::Viewer => 0,
            ProjectRole::Member => 1,
            ProjectRole::Admin => 2,
        };
        rank(self) >= rank(needed)
    }

    /// Whether this role may triage (resolve, ignore, delete issues and errors).
    pub fn can_triage(self) -> bool {
        self.allows(ProjectRole::Member)
    }
}

word_enum!(
    /// What a personal API token may do: `read` (a viewer's reads), `write` (also triage),
    /// `admin` (also project and user management), always within its user's own roles.
    TokenScope { Read => "read", Write => "write", Admin => "admin" }
);

impl TokenScope {
    /// The most a token of this scope may do in a project.
    pub fn ceiling(self) -> ProjectRole {
        match self {
            TokenScope::Read => ProjectRole::Viewer,
            TokenScope::Write => ProjectRole::Member,
            TokenScope::Admin => ProjectRole::Admin,
        }
    }

    /// Whether this scope includes `other`.
    pub fn covers(self, other: TokenScope) -> bool {
        self.ceiling().allows(other.ceiling())
    }
}

impl ProjectRole {
    /// The lesser of two roles.
    pub fn min(self, other: ProjectRole) -> ProjectRole {
        if self.allows(other) { other } else { self }
    }
}

/// A personal API token as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A token just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    pub token: String,
}

/// One entry of the audit log: who did what, in which project, when and from where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The user (none for a failed sign-in, or a user since removed).
    pub actor_id: Option<UserId>,
    /// The user's email then (for a failed sign-in, the email tried).
    pub actor: String,
    pub action: String,
    pub project_id: Option<super::ids::ProjectId>,
    pub target: String,
    pub address: Option<String>,
}

/// A page of the audit log, newest first; `next_before` continues it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; none at the end.
    pub next_before: Option<i64>,
}

/// The signed-in user, as the dashboard shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: InstanceRole,
}

/// One live session of the signed-in user, as their account page lists it (`id` is the hex
/// SHA-256 the server keeps, never the cookie's token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}

/// The signed-in user's account page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: CurrentUser,
    pub sessions: Vec<SessionInfo>,
    /// Their live personal API tokens.
    pub tokens: Vec<ApiTokenInfo>,
}

/// The path to go to after signing in: `next` when it is a path of this site (`/…`, but not
/// `//host` or `/\host`, which browsers read as another host), else the issue list.
pub fn safe_next(next: &str) -> &str {
    let own_path = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if own_path { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::{ProjectRole, safe_next};

    #[test]
    fn project_roles_allow_what_the_roles_below_them_allow() {
        use ProjectRole::{Admin, Member, Viewer};
        assert!(Admin.allows(Admin) && Admin.allows(Member) && Admin.allows(Viewer));
        assert!(!Member.allows(Admin) && Member.allows(Member) && Member.allows(Viewer));
        assert!(!Viewer.allows(Admin) && !Viewer.allows(Member) && Viewer.allows(Viewer));
        assert!(!Viewer.can_triage() && Member.can_triage());
        assert_eq!((Admin.min(Viewer), Viewer.min(Admin), Member.min(Member)), (Viewer, Viewer, Member));
        use super::TokenScope;
        assert!(TokenScope::Admin.covers(TokenScope::Write) && !TokenScope::Read.covers(TokenScope::Write));
    }

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next("/issues/4?event=x"), "/issues/4?event=x");
        assert_eq!(safe_next("/settings"), "/settings");
        for hostile in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/\t/evil",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(hostile), "/", "{hostile:?}");
        }
    }
}
