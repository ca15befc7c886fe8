//! The dashboard's alert calls: a project's channels and rules (reading them and changing them
//! need its admin role), a channel's delivery log, test messages and redelivery; and each
//! member's own email preference (any role).

use crate::model::{
    AlertSettings, AppError, ChannelInput, Delivery, EmailMode, NewChannel, ProjectId, Rule, RuleInput, TestOutcome,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
impl From<crate::server::alerts::manage::ManageError> for AppError {
    fn from(e: crate::server::alerts::manage::ManageError) -> Self {
        use crate::server::alerts::manage::ManageError;
        match e {
            ManageError::Invalid { field, message } => AppError::Invalid(format!("{field}: {message}")),
            ManageError::NotFound => AppError::NotFound,
            ManageError::Server(e) => e.into(),
        }
    }
}

/// The alerts page of the project with this slug (`None`: the first the user sees): channels and
/// rules for its admins, and the caller's email preference.
#[server]
pub async fn get_alert_settings(project: Option<String>) -> Result<AlertSettings, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    let grant = super::slug_grant(&st, &me, project.as_deref(), ProjectRole::Viewer).await?;
    let id = grant.project.id;
    let can_manage = grant.role.allows(ProjectRole::Admin);
    let (channels, rules) = if can_manage {
        let channels = crate::server::alerts::manage::channels(&st, id).await?;
        (channels, db::alerts::rules(&st.db, &[id]).await.map_err(ServerError::from)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let email_mode = db::alerts::email_mode(&st.db, me.user.user, id).await.map_err(ServerError::from)?;
    Ok(AlertSettings {
        project_id: id,
        channels,
        rules,
        email_mode,
        email_configured: st.alerts.email_configured(),
        can_manage,
    })
}

/// Sets how the caller gets this project's alert emails.
#[server]
pub async fn set_email_mode(project: ProjectId, mode: EmailMode) -> Result<(), AppError> {
    use crate::model::ProjectRole;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Viewer).await?;
    db::alerts::set_email_mode(&st.db, me.user.user, project, mode).await.map_err(ServerError::from)?;
    Ok(())
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn create_channel(project: ProjectId, input: ChannelInput) -> Result<NewChannel, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    let made = manage::create_channel(&st, project, input).await?;
    let target = format!("{} channel {} ({})", made.channel.kind, made.channel.id, made.channel.name);
    super::audit(&st, &me, "channel_create", Some(project), &target).await;
    Ok(made)
}

/// Gives a webhook channel a new signing secret (answered this once).
#[server]
pub async fn rotate_channel_secret(project: ProjectId, channel: i64) -> Result<NewChannel, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    let input = ChannelInput { rotate_secret: true, ..Default::default() };
    let changed = manage::update_channel(&st, project, channel, input).await?;
    super::audit(&st, &me, "channel_secret_rotate", Some(project), &format!("channel {channel}")).await;
    Ok(changed)
}

#[server]
pub async fn delete_channel(project: ProjectId, channel: i64) -> Result<(), AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    manage::delete_channel(&st, project, channel).await?;
    super::audit(&st, &me, "channel_delete", Some(project), &format!("channel {channel}")).await;
    Ok(())
}

/// Sends a test message through a channel now; answers what the receiver said.
#[server]
pub async fn test_channel(project: ProjectId, channel: i64) -> Result<TestOutcome, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    Ok(manage::send_test(&st, project, channel, Some(&me.user.email)).await?)
}

/// A channel's newest deliveries, each with its tries.
#[server]
pub async fn list_deliveries(project: ProjectId, channel: i64) -> Result<Vec<Delivery>, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    db::alerts::channel(&st.db, project, channel).await.map_err(ServerError::from)?.ok_or(AppError::NotFound)?;
    let mut conn = st.db.acquire().await.map_err(ServerError::from)?;
    Ok(db::alerts::deliveries(&mut conn, project, channel, None, 50).await.map_err(ServerError::from)?)
}

#[server]
pub async fn redeliver(project: ProjectId, channel: i64, delivery: uuid::Uuid) -> Result<(), AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    manage::redeliver(&st, project, channel, delivery).await?;
    super::audit(&st, &me, "delivery_redeliver", Some(project), &format!("delivery {delivery}")).await;
    Ok(())
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn create_rule(project: ProjectId, input: RuleInput) -> Result<Rule, AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    let rule = manage::create_rule(&st, project, input).await?;
    super::audit(&st, &me, "rule_create", Some(project), &format!("rule {} ({})", rule.id, rule.name)).await;
    Ok(rule)
}

#[server]
pub async fn delete_rule(project: ProjectId, rule: i64) -> Result<(), AppError> {
    use crate::model::ProjectRole;
    use crate::server::{alerts::manage, state};
    let st = state()?;
    let me = super::signed_in()?;
    super::project_grant(&st, &me, project, ProjectRole::Admin).await?;
    manage::delete_rule(&st, project, rule).await?;
    super::audit(&st, &me, "rule_delete", Some(project), &format!("rule {rule}")).await;
    Ok(())
}
