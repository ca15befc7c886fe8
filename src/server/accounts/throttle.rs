//! The sign-in throttle: failed attempts counted in Redis (so every instance shares them) per
//! account and per client address over a 15-minute window from the first failure; past 5 for
//! one email or 20 from one address, sign-in is refused with the time left until the window ends.

use crate::server::error::ServerError;
use crate::server::state::AppState;
use deadpool_redis::redis;

/// Failed attempts allowed per email, and per client address, within `WINDOW_SECS`.
pub const PER_EMAIL: u64 = 5;
pub const PER_ADDRESS: u64 = 20;
pub const WINDOW_SECS: u64 = 15 * 60;

fn keys(state: &AppState, email: &str, address: &str) -> (String, String) {
    let prefix = &state.settings.redis_prefix;
    // Hashed, so no address book ends up in Redis' keys.
    let email = crate::server::sha256_hex(&email.trim().to_lowercase());
    (format!("{prefix}:signin:email:{email}"), format!("{prefix}:signin:addr:{address}"))
}

/// `Some(seconds)` to wait when `email` or `address` has used up its failed attempts.
pub async fn blocked(state: &AppState, email: &str, address: &str) -> Result<Option<u64>, ServerError> {
    let (by_email, by_address) = keys(state, email, address);
    let mut conn = state.redis.get().await?;
    let (e, e_ttl, a, a_ttl): (Option<u64>, i64, Option<u64>, i64) = redis::pipe()
        .cmd("GET")
        .arg(&by_email)
        .cmd("TTL")
        .arg(&by_email)
        .cmd("GET")
        .arg(&by_address)
        .cmd("TTL")
        .arg(&by_address)
        .query_async(&mut conn)
        .await?;
    let wait = |n: Option<u64>, limit: u64, ttl: i64| (n.unwrap_or(0) >= limit).then(|| ttl.max(1) as u64);
    Ok(match (wait(e, PER_EMAIL, e_ttl), wait(a, PER_ADDRESS, a_ttl)) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    })
}

/// Counts one failed attempt for `email` and `address` (the window starts at the first).
pub async fn failed(state: &AppState, email: &str, address: &str) -> Result<(), ServerError> {
    let (by_email, by_address) = keys(state, email, address);
    let mut conn = state.redis.get().await?;
    let mut pipe = redis::pipe();
    for key in [&by_email, &by_address] {
        pipe.cmd("SET").arg(key).arg(0).arg("EX").arg(WINDOW_SECS).arg("NX").ignore();
        pipe.cmd("INCR").arg(key).ignore();
    }
    let () = pipe.query_async(&mut conn).await?;
    Ok(())
}

/// After a successful sign-in: the account's count starts again (the address's does not).
pub async fn succeeded(state: &AppState, email: &str, address: &str) -> Result<(), ServerError> {
    let (by_email, _) = keys(state, email, address);
    let mut conn = state.redis.get().await?;
    let () = redis::cmd("DEL").arg(&by_email).query_async(&mut conn).await?;
    Ok(())
}
