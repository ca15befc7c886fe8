//! A project as shown to its own API key: id, name and the DSN SDKs send to; how a DSN is written.

use super::ids::ProjectId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    /// `{scheme}://{public_key}@{host}/{id}`: what an SDK is configured with.
    pub dsn: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Vec<Project>,
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
    fn dsn_puts_the_key_before_the_host_and_the_id_last() {
        assert_eq!(
            dsn("http://127.0.0.1:3000/", "0123456789abcdef0123456789abcdef", ProjectId::new(1)),
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:3000/1"
        );
        assert_eq!(dsn("https://x.example/sentry", "k", ProjectId::new(7)), "https://k@x.example/sentry/7");
    }
}
