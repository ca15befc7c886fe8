//! Integration tests against the real PostgreSQL and Redis: each test gets its own database
//! (`#[sqlx::test]`) and its own Redis key prefix.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod accounts;
mod alerts;
mod assets;
mod dashboard;
mod doctor;
mod faults;
mod health;
mod helpers;
mod ignore;
mod ingest;
mod metrics;
mod openapi;
mod overload;
mod pipeline;
mod process;
mod projects;
mod receivers;
mod rest;
mod retention;
mod rolling;
mod rollups;
mod sdk;
/// The bench's seeder, for tests that need a large project.
#[path = "../bin/bench/seed.rs"]
#[allow(dead_code, reason = "the tests use the seeder, not the bench's checks")]
mod seed;
mod shutdown;
mod signin;
mod spool;
mod tokens;
mod upgrade;
mod users;
