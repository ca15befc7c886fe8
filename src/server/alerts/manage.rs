//! Managing a project's channels and rules (for REST and the dashboard alike): checking what a
//! user wrote, storing it, sending a test message, redelivering. Callers check the project
//! admin role first.

use super::{http, render, rules, sign};
use crate::model::{Channel, ChannelInput, ChannelKind, NewChannel, ProjectId, Rule, RuleInput, TestOutcome, Trigger};
use crate::server::db::alerts as db;
use crate::server::error::ServerError;
use crate::server::state::AppState;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Server(#[from] ServerError),
}

impl From<sqlx::Error> for ManageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Server(ServerError::Db(e))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid { field, message: message.into() }
}

/// The most channels and rules one project may have.
const MAX_PER_PROJECT: usize = 50;

fn clean_name(name: &str) -> Result<String, ManageError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

fn clean_addresses(to: &[String]) -> Result<Vec<String>, ManageError> {
    if to.len() > 50 {
        return Err(invalid("to", "at most 50 addresses"));
    }
    to.iter()
        .map(|a| {
            let a = a.trim();
            let ok = a.len() <= 254
                && a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                && !a.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
            if ok { Ok(a.to_owned()) } else { Err(invalid("to", format!("{a:?} is not an email address"))) }
        })
        .collect()
}

/// Checks a target URL for a channel of `kind`.
fn clean_url(state: &AppState, kind: ChannelKind, url: &str) -> Result<String, ManageError> {
    let parsed = http::check_url(url, state.alerts.allow_private()).map_err(|m| invalid("url", m))?;
    if url.len() > 2000 {
        return Err(invalid("url", "at most 2000 characters"));
    }
    if kind == ChannelKind::Ntfy && render::ntfy_target(parsed.as_str()).is_none() {
        return Err(invalid("url", "must be a topic URL such as https://ntfy.sh/my-alerts"));
    }
    Ok(parsed.to_string())
}

/// A project's channels as shown: an email channel cannot deliver while email is not configured,
/// and says so (its alerts are not written meanwhile).
pub async fn channels(state: &AppState, project: ProjectId) -> Result<Vec<Channel>, ServerError> {
    let mut list = db::channels(&state.db, project).await?;
    if !state.alerts.email_configured() {
        for c in list.iter_mut().filter(|c| c.kind == ChannelKind::Email) {
            c.status = crate::model::ChannelStatus::Broken;
            c.last_error =
                Some("email is not configured on this server (FAULTLINE_SMTP_URL, FAULTLINE_EMAIL_FROM)".into());
        }
    }
    Ok(list)
}

/// Makes a channel; a webhook gets its signing secret (in the answer only this once).
pub async fn create_channel(
    state: &AppState,
    project: ProjectId,
    input: ChannelInput,
) -> Result<NewChannel, ManageError> {
    let kind = input.kind.ok_or_else(|| invalid("kind", "required: email, slack, discord, teams, ntfy or webhook"))?;
    let name = clean_name(input.name.as_deref().unwrap_or(kind.label()))?;
    if db::channels(&state.db, project).await?.len() >= MAX_PER_PROJECT {
        return Err(invalid("kind", format!("a project has at most {MAX_PER_PROJECT} channels")));
    }
    let (url, to) = match kind {
        ChannelKind::Email => {
            if input.url.is_some() {
                return Err(invalid("url", "an email channel has no URL; name addresses in \"to\""));
            }
            (None, clean_addresses(input.to.as_deref().unwrap_or_default())?)
        }
        _ => {
            if input.to.is_some() {
                return Err(invalid("to", "only email channels have addresses"));
            }
            let url = input.url.as_deref().ok_or_else(|| invalid("url", "required"))?;
            (Some(clean_url(state, kind, url)?), Vec::new())
        }
    };
    let token = match (kind, input.token.as_deref()) {
        (ChannelKind::Ntfy, Some(t)) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        (ChannelKind::Ntfy, _) => None,
        (_, Some(_)) => return Err(invalid("token", "only ntfy channels have a token")),
        (_, None) => None,
    };
    let secret = match kind {
        ChannelKind::Webhook => Some(sign::new_secret().map_err(|e| ServerError::Other(format!("randomness: {e}")))?),
        _ => None,
    };
    let fields = db::ChannelFields {
        kind,
        name: &name,
        url: url.as_deref(),
        to: &to,
        token: token.as_deref(),
        secret: secret.as_deref(),
    };
    let channel = db::insert_channel(&state.db, project, &fields).await?;
    Ok(NewChannel { channel, secret })
}

/// Changes a channel: name, target, addresses, ntfy token; `rotate_secret` gives a webhook a new
/// signing secret (in the answer only).
pub async fn update_channel(
    state: &AppState,
    project: ProjectId,
    id: i64,
    input: ChannelInput,
) -> Result<NewChannel, ManageError> {
    let current = db::channel(&state.db, project, id).await?.ok_or(ManageError::NotFound)?;
    if input.kind.is_some_and(|k| k != current.kind) {
        return Err(invalid("kind", "cannot change; make a new channel"));
    }
    let name = input.name.as_deref().map(clean_name).transpose()?;
    let url = match (&input.url, current.kind) {
        (Some(_), ChannelKind::Email) => return Err(invalid("url", "an email channel has no URL")),
        (Some(u), kind) => Some(clean_url(state, kind, u)?),
        (None, _) => None,
    };
    let to = match (&input.to, current.kind) {
        (Some(to), ChannelKind::Email) => Some(clean_addresses(to)?),
        (Some(_), _) => return Err(invalid("to", "only email channels have addresses")),
        (None, _) => None,
    };
    let token = match (&input.token, current.kind) {
        (Some(t), ChannelKind::Ntfy) => Some(Some(t.trim()).filter(|t| !t.is_empty())),
        (Some(_), _) => return Err(invalid("token", "only ntfy channels have a token")),
        (None, _) => None,
    };
    let secret = match (input.rotate_secret, current.kind) {
        (true, ChannelKind::Webhook) => {
            Some(sign::new_secret().map_err(|e| ServerError::Other(format!("randomness: {e}")))?)
        }
        (true, _) => return Err(invalid("rotate_secret", "only webhook channels have a secret")),
        (false, _) => None,
    };
    let change = db::ChannelChange {
        name: name.as_deref(),
        url: url.as_deref(),
        to: to.as_deref(),
        token,
        secret: secret.as_deref(),
    };
    let channel = db::update_channel(&state.db, project, id, &change).await?.ok_or(ManageError::NotFound)?;
    Ok(NewChannel { channel, secret })
}

/// Deletes a channel (rules keep their other channels).
pub async fn delete_channel(state: &AppState, project: ProjectId, id: i64) -> Result<(), ManageError> {
    if db::delete_channel(&state.db, project, id).await? { Ok(()) } else { Err(ManageError::NotFound) }
}

/// Checks that `rule`'s channels are the project's.
async fn check_channels(state: &AppState, rule: &Rule) -> Result<(), ManageError> {
    let own: Vec<i64> = db::channels(&state.db, rule.project_id).await?.iter().map(|c| c.id).collect();
    match rule.channels.iter().find(|c| !own.contains(c)) {
        Some(c) => Err(invalid("channels", format!("{c} is not a channel of this project"))),
        None => Ok(()),
    }
}

/// Makes a rule.
pub async fn create_rule(state: &AppState, project: ProjectId, input: RuleInput) -> Result<Rule, ManageError> {
    let rule = rules::build(input, rules::blank(project)).map_err(|m| rule_error(&m))?;
    check_channels(state, &rule).await?;
    if db::rules(&state.db, &[project]).await?.len() >= MAX_PER_PROJECT {
        return Err(invalid("name", format!("a project has at most {MAX_PER_PROJECT} rules")));
    }
    let mut tx = state.db.begin().await?;
    let id = db::save_rule(&mut tx, &rule, None).await?.ok_or(ManageError::NotFound)?;
    tx.commit().await?;
    db::rule(&state.db, project, id).await?.ok_or(ManageError::NotFound)
}

/// Changes a rule: fields left out stay.
pub async fn update_rule(state: &AppState, project: ProjectId, id: i64, input: RuleInput) -> Result<Rule, ManageError> {
    let current = db::rule(&state.db, project, id).await?.ok_or(ManageError::NotFound)?;
    let rule = rules::build(input, current).map_err(|m| rule_error(&m))?;
    check_channels(state, &rule).await?;
    let mut tx = state.db.begin().await?;
    db::save_rule(&mut tx, &rule, Some(id)).await?.ok_or(ManageError::NotFound)?;
    tx.commit().await?;
    db::rule(&state.db, project, id).await?.ok_or(ManageError::NotFound)
}

/// A rule's refusal under the field it names.
fn rule_error(message: &str) -> ManageError {
    const FIELDS: [&str; 8] =
        ["name", "when", "min_level", "environments", "release", "tags", "channels", "cooldown_minutes"];
    let field = FIELDS.into_iter().find(|f| message.starts_with(&format!("{f}:"))).unwrap_or("body");
    let text = message.split_once(": ").map_or(message, |(_, m)| m);
    invalid(field, text)
}

pub async fn delete_rule(state: &AppState, project: ProjectId, id: i64) -> Result<(), ManageError> {
    if db::delete_rule(&state.db, project, id).await? { Ok(()) } else { Err(ManageError::NotFound) }
}

/// Sends a test message through `channel` now, by the same renderer and transport as alerts
/// (an email channel's goes to `to`, or to the caller for a members channel), and answers what
/// the receiver said. It is logged with the channel's deliveries.
pub async fn send_test(
    state: &AppState,
    project: ProjectId,
    channel: i64,
    caller_email: Option<&str>,
) -> Result<TestOutcome, ManageError> {
    let c: Channel = db::channel(&state.db, project, channel).await?.ok_or(ManageError::NotFound)?;
    let recipient = match c.kind {
        ChannelKind::Email => Some(
            c.to.first()
                .map(String::as_str)
                .or(caller_email)
                .ok_or_else(|| {
                    invalid("to", "a test of a members channel goes to a signed-in user; use a personal token")
                })?
                .to_owned(),
        ),
        _ => None,
    };
    let id = db::insert_delivery(
        &state.db,
        project,
        channel,
        Trigger::Test,
        recipient.as_deref(),
        &serde_json::json!({}),
        true,
    )
    .await?;
    let taken = db::taken(&state.db, id).await?.ok_or(ManageError::NotFound)?;
    Ok(super::sender::deliver(state, taken).await?)
}

/// Sends a delivery again (same id and payload, a new day of retries).
pub async fn redeliver(state: &AppState, project: ProjectId, channel: i64, id: uuid::Uuid) -> Result<(), ManageError> {
    if !db::redeliver(&state.db, project, channel, id).await? {
        return Err(ManageError::NotFound);
    }
    state.alerts.wake();
    Ok(())
}
