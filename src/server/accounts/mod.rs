//! Accounts' building blocks: password hashing (`password`), dashboard sessions (`session`), the
//! sign-in throttle (`throttle`) and the secret tokens of sessions, invitations and personal API
//! tokens (`token`).

pub mod password;
pub mod session;
pub mod throttle;
pub mod token;
