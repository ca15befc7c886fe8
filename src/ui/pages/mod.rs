//! One component per route.

pub mod account;
pub mod alerts;
pub mod audit;
pub mod issue;
pub mod issues;
pub mod login;
pub mod projects;
pub mod settings;
pub mod storage;
pub mod users;
