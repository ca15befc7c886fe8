//! Typed models shared by the server and the browser: serde only, no I/O.

mod alert;
mod error;
mod error_event;
mod filter;
mod ids;
mod issue;
mod live;
mod project;
mod query;
mod settings;
mod stats;
mod storage;
mod user;

pub use alert::{
    AlertSettings, Attempt, Channel, ChannelInput, ChannelKind, ChannelStatus, Delivery, DeliveryStatus, EmailMode,
    NewChannel, Rule, RuleInput, TestOutcome, Trigger, When, WhenName,
};
pub use error::AppError;
pub use error_event::{ErrorEvent, ErrorList, Level, ParseEnumError, Source};
pub use filter::{DEFAULT_LIMIT, Filter, IssueSort, MAX_LIMIT, Page};
pub use ids::{ErrorId, IssueId, ProjectId, ProjectKey, ProjectKeyError};
pub use issue::{IgnoreUntil, Issue, IssueDetail, IssueList, IssuePage, IssueStatus, IssueSummary, TagFacet};
pub use live::LiveUpdate;
pub use project::{Member, Project, ProjectBrief, ProjectList, SLUG_MAX, dsn, slugify};
pub use query::{IssueQuery, PER_PAGE, Period, encode_query_value, query_pairs};
pub use settings::{ApiKeyInfo, NewApiKey, ProjectSettings};
pub use stats::{ByLevel, BySource, IssueCounts, Stats};
pub use storage::{ProjectStorage, Removal, RemovalReason, StorageReport, format_bytes};
pub use user::{
    Account, ApiTokenInfo, AuditEntry, AuditPage, CurrentUser, InstanceRole, NewApiToken, ProjectRole, SessionInfo,
    TokenScope, UserId, safe_next,
};
