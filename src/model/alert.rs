//! Alerts as the API and the dashboard see them: channels, rules, deliveries and their attempts,
//! and each user's email preference.

use super::error_event::{Level, ParseEnumError, word_enum};
use super::ids::{IssueId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

word_enum!(
    /// Where a channel's messages go.
    ChannelKind { Email => "email", Slack => "slack", Discord => "discord", Teams => "teams", Ntfy => "ntfy", Webhook => "webhook" }
);

impl ChannelKind {
    /// How the dashboard names the kind.
    pub const fn label(self) -> &'static str {
        match self {
            ChannelKind::Email => "Email",
            ChannelKind::Slack => "Slack",
            ChannelKind::Discord => "Discord",
            ChannelKind::Teams => "Microsoft Teams",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Webhook => "Webhook",
        }
    }
}

word_enum!(
    /// A channel's health: `failing` while deliveries are being retried, `broken` after a
    /// permanent refusal (a removed webhook, a wrong token) until a delivery succeeds again.
    ChannelStatus { Ok => "ok", Failing => "failing", Broken => "broken" }
);

word_enum!(
    /// Where one delivery stands.
    DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" }
);

word_enum!(
    /// How a member wants a project's email alerts.
    EmailMode { Every => "every", Hourly => "hourly", Daily => "daily", None => "none" }
);

/// Why a message was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    NewIssue,
    Regression,
    /// A volume rule's count was reached.
    Events,
    /// An ignored issue passed what it was ignored until.
    Unignored,
    /// What a cooldown held back.
    Followup,
    /// Sent by **Send test**.
    Test,
    /// Another channel of the project stopped working.
    ChannelBroken,
    /// A user's hourly or daily email digest.
    Digest,
}

impl Trigger {
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::NewIssue => "new_issue",
            Trigger::Regression => "regression",
            Trigger::Events => "events",
            Trigger::Unignored => "unignored",
            Trigger::Followup => "followup",
            Trigger::Test => "test",
            Trigger::ChannelBroken => "channel_broken",
            Trigger::Digest => "digest",
        }
    }

    /// The words a message starts with.
    pub const fn label(self) -> &'static str {
        match self {
            Trigger::NewIssue => "New issue",
            Trigger::Regression => "Regression",
            Trigger::Events => "Frequent issue",
            Trigger::Unignored => "Ignored issue is back",
            Trigger::Followup => "Still happening",
            Trigger::Test => "Test message",
            Trigger::ChannelBroken => "Alert channel broken",
            Trigger::Digest => "Digest",
        }
    }
}

impl FromStr for Trigger {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "new_issue" => Trigger::NewIssue,
            "regression" => Trigger::Regression,
            "events" => Trigger::Events,
            "unignored" => Trigger::Unignored,
            "followup" => Trigger::Followup,
            "test" => Trigger::Test,
            "channel_broken" => Trigger::ChannelBroken,
            "digest" => Trigger::Digest,
            _ => {
                return Err(ParseEnumError {
                    allowed: "new_issue regression events unignored followup test channel_broken digest",
                });
            }
        })
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel as listed: never its token; a webhook's secret only when made (`NewChannel`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: i64,
    pub project_id: ProjectId,
    pub kind: ChannelKind,
    pub name: String,
    pub url: Option<String>,
    /// Email: fixed addresses; empty means the project's members by their preferences.
    pub to: Vec<String>,
    /// ntfy: whether an access token is set.
    pub has_token: bool,
    pub status: ChannelStatus,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A channel just made (or its secret just rotated): a webhook's signing secret is shown this
/// once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewChannel {
    #[serde(flatten)]
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// What makes a channel (`POST …/channels`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub kind: Option<ChannelKind>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub to: Option<Vec<String>>,
    /// ntfy only: an access token; an empty string removes it.
    pub token: Option<String>,
    /// Webhook only (`PATCH`): make a new signing secret, shown in the answer.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// One condition of a rule's **When**.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum When {
    Named(WhenName),
    Events { events: i32, minutes: i32 },
}

/// The conditions named by a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenName {
    NewIssue,
    Regression,
    Unignored,
}

/// An alert rule: when, for which events, and where to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub project_id: ProjectId,
    pub name: String,
    pub when: Vec<When>,
    pub min_level: Option<Level>,
    pub environments: Vec<String>,
    pub release: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub channels: Vec<i64>,
    pub cooldown_minutes: i32,
    pub created_at: DateTime<Utc>,
}

/// What makes or changes a rule; in a `PATCH` every field is optional and an absent one stays.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: Option<String>,
    pub when: Option<Vec<When>>,
    /// `null` (in a `PATCH`) removes the filter, like an absent one in a `POST`.
    #[serde(default, with = "double_option")]
    pub min_level: Option<Option<Level>>,
    pub environments: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    pub release: Option<Option<String>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub channels: Option<Vec<i64>>,
    pub cooldown_minutes: Option<i32>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// One message of the outbox, as the delivery log lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: uuid::Uuid,
    pub channel_id: i64,
    pub rule_id: Option<i64>,
    pub issue_id: Option<IssueId>,
    pub recipient: Option<String>,
    pub trigger: Trigger,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the next try is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Each try, oldest first: what was sent and what the receiver answered.
    pub tries: Vec<Attempt>,
}

/// One try of a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub latency_ms: i32,
    pub status: Option<i32>,
    pub response: Option<String>,
    pub error: Option<String>,
    pub payload: Option<String>,
}

/// What **Send test** got back from the receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub delivered: bool,
    pub status: Option<i32>,
    pub body: Option<String>,
    pub error: Option<String>,
    pub latency_ms: i32,
}

/// The alerts page of a project: its channels, rules and the caller's email preference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertSettings {
    pub project_id: ProjectId,
    pub channels: Vec<Channel>,
    pub rules: Vec<Rule>,
    pub email_mode: EmailMode,
    /// Whether `FAULTLINE_SMTP_URL` is set (email channels cannot deliver without it).
    pub email_configured: bool,
    /// Whether the caller may change channels and rules (project admins).
    pub can_manage: bool,
}
