//! Accounts: password hashing (`password`), dashboard sessions (`session`) and their cookie
//! (`cookie`), the sign-in throttle (`throttle`), the secret tokens of sessions, links and
//! personal API tokens (`token`), and the door every dashboard request passes (`guard`).

pub mod cookie;
pub mod guard;
pub mod links;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;
pub mod tokens;

/// True when `email` looks like an address (something@domain.tld, no spaces, ≤ 254 bytes).
pub fn looks_like_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}
