//! Everything that runs only on the server: configuration, state, PostgreSQL, Redis, the REST
//! API, and the worker.

pub mod accounts;
pub mod alerts;
pub mod assets;
pub mod audit;
pub mod auth_failures;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod detail;
pub mod doctor;
pub mod error;
pub mod ingest;
pub mod intake;
pub mod keys;
pub mod live;
pub mod metrics;
pub mod process;
pub mod projects;
pub mod queue;
pub mod rest;
pub mod retention;
pub mod spool;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;

pub use state::AppState;

use crate::model::AppError;
use sha2::{Digest, Sha256};

/// The server state, from the Leptos context of a page render or server function.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Unavailable
    })
}

/// Lowercase hex SHA-256 of a text.
pub fn sha256_hex(s: &str) -> String {
    to_hex(&Sha256::digest(s.as_bytes()))
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
    out
}

/// Removes NUL characters (which PostgreSQL cannot store in text or jsonb) from a text.
pub fn strip_nul(s: String) -> String {
    if s.contains('\0') { s.replace('\0', "") } else { s }
}

/// Removes NUL characters from every string and key of a JSON value.
pub fn strip_nul_in(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', ""),
        Value::Array(items) => items.iter_mut().for_each(strip_nul_in),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                *map = old.into_iter().map(|(k, v)| (k.replace('\0', ""), v)).collect();
            }
            map.values_mut().for_each(strip_nul_in);
        }
        _ => {}
    }
}
