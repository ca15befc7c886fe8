//! Test error triggers: the reporter set-up for the dashboard's own frontend errors, and a server
//! function that really fails and records its error through the normal pipeline (both in the
//! first project the user sees).

use crate::model::AppError;
use leptos::prelude::*;

/// The id and public DSN key of the first project the user sees (the one the installation
/// started with, for an admin), for the dashboard's own error reporter.
#[server]
pub async fn get_reporter_config() -> Result<(i64, String), AppError> {
    use crate::server::state;
    let st = state()?;
    let me = super::signed_in()?;
    let p = super::slug_grant(&st, &me, None, crate::model::ProjectRole::Viewer).await?.project;
    Ok((p.id.get(), p.public_key))
}

/// Fails for real (a configuration that does not parse), records that failure as an error with
/// source `backend` through the queue like any other, and reports the failure to the caller.
#[server]
pub async fn trigger_backend_error() -> Result<(), AppError> {
    use crate::model::{ErrorId, Level, Source};
    use crate::server::queue::{QueuedEntry, QueuedError};
    use crate::server::state;
    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "parsing is meant to fail before any field is read")]
    struct PaymentConfig {
        gateway: String,
        retries: u32,
    }
    let st = state()?;
    let me = super::signed_in()?;
    let failure = match serde_json::from_str::<PaymentConfig>("{\"gateway\": \"stripe\", \"retries\": \"three\"}") {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let p = super::slug_grant(&st, &me, None, crate::model::ProjectRole::Viewer).await?.project;
    let now = chrono::Utc::now();
    let message = format!("Backend test error: payment config invalid: {failure}");
    let entry = QueuedError {
        format: crate::server::queue::ENTRY_FORMAT,
        id: ErrorId::generate(),
        project_id: p.id,
        received_at: now,
        timestamp: now,
        level: Level::Error,
        message: message.clone(),
        stack_trace: Some(std::backtrace::Backtrace::force_capture().to_string()),
        context: serde_json::json!({"tags": {"trigger": "dashboard"}}),
        source: Source::Backend,
        url: None,
        environment: None,
        release: Some(env!("CARGO_PKG_VERSION").to_owned()),
        fingerprint: Some("faultline-backend-test-error".into()),
        platform: Some("rust".into()),
    };
    crate::server::intake::hand_over_entry(&st, &QueuedEntry::Api(entry)).await?;
    Err(AppError::ServerFn(message))
}
