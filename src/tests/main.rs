//! Integration tests against the real PostgreSQL and Redis: each test gets its own database
//! (`#[sqlx::test]`) and its own Redis key prefix.

mod health;
mod helpers;
mod openapi;
mod pipeline;
mod rest;
