//! Projects as the API and the dashboard show them (with the caller's role), how a DSN is
//! written, and how a project's slug is made from its name.

use super::ids::ProjectId;
use super::user::{ProjectRole, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    /// The short name in URLs (`/?project=<slug>`); kept when the project is renamed.
    pub slug: String,
    /// `{scheme}://{public_key}@{host}/{id}`: what an SDK is configured with.
    pub dsn: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

/// A project the signed-in user can see, with their role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBrief {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub role: ProjectRole,
}

/// A member of a project as its settings list them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub role: ProjectRole,
    pub active: bool,
}

/// The longest slug (a DNS label's length).
pub const SLUG_MAX: usize = 64;

/// The slug made from a project's name: lowercase ASCII letters and digits, runs of anything
/// else as one `-`, at most `SLUG_MAX` characters; `project` when nothing is left.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    // Room for a `-N` suffix when another project has the slug already.
    slug.truncate(SLUG_MAX - 4);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "project".to_owned() } else { slug.to_owned() }
}

/// The DSN of `project` with public key `key` on a server reached at `public_url`:
/// `{scheme}://{key}@{host}[/{path}]/{project}`.
pub fn dsn(public_url: &str, key: &str, project: ProjectId) -> String {
    let base = public_url.trim_end_matches('/');
    match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{key}@{rest}/{project}"),
        None => format!("http://{key}@{base}/{project}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slugify("Checkout API"), "checkout-api");
        assert_eq!(slugify("  Web (prod) / EU  "), "web-prod-eu");
        assert_eq!(slugify("Ünïcode ☃"), "n-code");
        assert_eq!(slugify("☃☃"), "project");
        assert_eq!(slugify(""), "project");
        let long = slugify(&"a".repeat(500));
        assert_eq!(long.len(), SLUG_MAX - 4);
    }

    #[test]
    fn dsn_puts_the_key_before_the_host_and_the_id_last() {
        assert_eq!(
            dsn("http://127.0.0.1:3000/", "0123456789abcdef0123456789abcdef", ProjectId::new(1)),
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:3000/1"
        );
        assert_eq!(dsn("https://x.example/sentry", "k", ProjectId::new(7)), "https://k@x.example/sentry/7");
    }
}
