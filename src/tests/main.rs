//! Integration tests against the real PostgreSQL and Redis: each test gets its own database
//! (`#[sqlx::test]`) and its own Redis key prefix.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod faults;
mod health;
mod helpers;
mod ingest;
mod openapi;
mod overload;
mod pipeline;
mod process;
mod rest;
mod sdk;
mod shutdown;
mod spool;
