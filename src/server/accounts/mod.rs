//! Accounts' building blocks: password hashing (`password`) and the secret tokens of sessions,
//! invitations and personal API tokens (`token`).

pub mod password;
pub mod token;
