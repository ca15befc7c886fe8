//! Alerts: rules evaluated in the worker's transaction write deliveries into an outbox
//! (`rules`); the sender (`sender`) in every server process delivers them at-least-once to
//! email (`email`), chat services and webhooks (`http`, `render`, `sign`), with retries, a
//! delivery log and channel health.

pub mod digest;
pub mod email;
pub mod http;
pub mod manage;
pub mod render;
pub mod rules;
pub mod sender;
pub mod sign;
pub mod unsubscribe;

use super::config::Settings;
use super::error::ServerError;
use std::sync::Arc;

/// What the sender needs beside the database: its HTTP client, the SMTP relay, and the bell the
/// worker rings after writing deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Alerts(Arc<Inner>);

struct Inner {
    wake: tokio::sync::Notify,
    http: reqwest::Client,
    mailer: Option<email::Mailer>,
    allow_private: bool,
}

impl Alerts {
    pub fn new(settings: &Settings) -> Result<Self, ServerError> {
        let mailer = match (&settings.smtp_url, &settings.email_from) {
            (Some(url), Some(from)) => Some(email::Mailer::from_url(url.expose(), from).map_err(ServerError::Other)?),
            (Some(_), None) => return Err(ServerError::Other("FAULTLINE_SMTP_URL needs FAULTLINE_EMAIL_FROM".into())),
            (None, _) => None,
        };
        Ok(Self(Arc::new(Inner {
            wake: tokio::sync::Notify::new(),
            http: http::client(settings.alerts_allow_private).map_err(ServerError::Other)?,
            mailer,
            allow_private: settings.alerts_allow_private,
        })))
    }

    /// Tells this process's sender that new deliveries are waiting.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Whether email can be sent (`FAULTLINE_SMTP_URL` set).
    pub fn email_configured(&self) -> bool {
        self.0.mailer.is_some()
    }

    pub fn mailer(&self) -> Option<&email::Mailer> {
        self.0.mailer.as_ref()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// Whether targets on private addresses are allowed (`FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS`).
    pub fn allow_private(&self) -> bool {
        self.0.allow_private
    }

    async fn woken(&self) {
        self.0.wake.notified().await;
    }
}
