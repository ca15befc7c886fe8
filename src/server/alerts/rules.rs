//! Alert rules: which of a batch's issues and events a rule fires for (evaluated inside the
//! worker's transaction), and checking a rule a user wrote.

use crate::model::{IssueId, Level, ProjectId, Rule, RuleInput, Trigger, When, WhenName};
use crate::server::db::alerts::{self, Fired};
use crate::server::db::batch::NewError;
use std::collections::{BTreeMap, HashMap};

/// Cooldown when a rule does not say.
pub const DEFAULT_COOLDOWN_MINUTES: i32 = 30;
/// The longest cooldown and volume window, in minutes.
pub const MAX_COOLDOWN_MINUTES: i32 = 10_080;
pub const MAX_WINDOW_MINUTES: i32 = 1_440;

/// How severe a level is: debug 0 … fatal 4.
fn rank(level: Level) -> u8 {
    match level {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warning => 2,
        Level::Error => 3,
        Level::Fatal => 4,
    }
}

/// Whether one event passes a rule's filters.
pub fn passes(rule: &Rule, e: &NewError) -> bool {
    if let Some(min) = rule.min_level {
        let level = e.level.parse().unwrap_or(Level::Error);
        if rank(level) < rank(min) {
            return false;
        }
    }
    if !rule.environments.is_empty() && !e.environment.as_ref().is_some_and(|env| rule.environments.contains(env)) {
        return false;
    }
    if rule.release.as_ref().is_some_and(|r| e.release.as_ref() != Some(r)) {
        return false;
    }
    let tags = e.context.get("tags");
    rule.tags.iter().all(|(k, v)| tags.and_then(|t| t.get(k)).and_then(|t| t.as_str()) == Some(v.as_str()))
}

/// What a message says about the event that set it off.
fn detail_of(e: &NewError) -> serde_json::Value {
    let mut d = serde_json::json!({"level": e.level});
    if let Some(env) = &e.environment {
        d["environment"] = env.as_str().into();
    }
    if let Some(release) = &e.release {
        d["release"] = release.as_str().into();
    }
    d
}

/// One issue of a batch as the rules see it.
pub struct BatchIssue<'a> {
    pub project: ProjectId,
    /// How the batch changed it: new, regressed, back from ignored (or nothing).
    pub change: Option<Trigger>,
    /// Its newly stored events, in batch order.
    pub events: Vec<&'a NewError>,
    /// Its event count after the batch.
    pub count: i64,
}

/// Runs the rules of the batch's projects over its issues and writes what they call for into
/// the outbox (in the batch's transaction; email channels only when `email` can be sent).
/// Answers how many deliveries were written.
pub async fn evaluate(
    db: &mut sqlx::PgConnection,
    issues: &BTreeMap<IssueId, BatchIssue<'_>>,
    email: bool,
) -> sqlx::Result<u64> {
    if issues.is_empty() {
        return Ok(0);
    }
    let mut projects: Vec<ProjectId> = issues.values().map(|i| i.project).collect();
    projects.sort_unstable();
    projects.dedup();
    let rules = alerts::rules(&mut *db, &projects).await?;
    if rules.is_empty() {
        return Ok(0);
    }
    let mut by_project: HashMap<ProjectId, Vec<&Rule>> = HashMap::new();
    for r in &rules {
        by_project.entry(r.project_id).or_default().push(r);
    }
    let mut fired = Vec::new();
    let mut counts = Vec::new();
    let mut volume = Vec::new();
    for (id, issue) in issues {
        for rule in by_project.get(&issue.project).into_iter().flatten() {
            if let Some(change) = issue.change
                && rule_has(rule, change)
                && let Some(e) = issue.events.iter().find(|e| passes(rule, e))
            {
                fired.push(Fired {
                    rule_id: rule.id,
                    issue_id: *id,
                    trigger: change,
                    detail: detail_of(e),
                    cooldown_minutes: rule.cooldown_minutes,
                    count: issue.count,
                });
            }
            if let Some((events, minutes)) = window(rule) {
                let passing: Vec<&&NewError> = issue.events.iter().filter(|e| passes(rule, e)).collect();
                if let Some(last) = passing.last() {
                    counts.push((rule.id, *id, passing.len() as i32, minutes));
                    volume.push((rule, *id, events, minutes, detail_of(last), issue.count));
                }
            }
        }
    }
    if !counts.is_empty() {
        let before = alerts::add_counts(&mut *db, &counts).await?;
        for ((rule, id, events, minutes, mut detail, count), (before, added)) in
            volume.into_iter().zip(before.into_iter().zip(counts.iter().map(|c| c.2)))
        {
            // Fires when the window's count reaches the threshold, not on every event past it.
            let after = before + i64::from(added);
            if before < i64::from(events) && after >= i64::from(events) {
                detail["events"] = after.into();
                detail["minutes"] = minutes.into();
                fired.push(Fired {
                    rule_id: rule.id,
                    issue_id: id,
                    trigger: Trigger::Events,
                    detail,
                    cooldown_minutes: rule.cooldown_minutes,
                    count,
                });
            }
        }
    }
    alerts::enqueue(db, &fired, email).await
}

/// Whether a rule fires on this change of an issue.
fn rule_has(rule: &Rule, change: Trigger) -> bool {
    let name = match change {
        Trigger::NewIssue => WhenName::NewIssue,
        Trigger::Regression => WhenName::Regression,
        Trigger::Unignored => WhenName::Unignored,
        _ => return false,
    };
    rule.when.contains(&When::Named(name))
}

/// A volume rule's threshold and window.
fn window(rule: &Rule) -> Option<(i32, i32)> {
    rule.when.iter().find_map(|w| match w {
        When::Events { events, minutes } => Some((*events, *minutes)),
        When::Named(_) => None,
    })
}

/// Builds the rule `input` describes (over `base` for a change), or says what is wrong with it.
/// Channels are checked by the caller (they must be the project's).
pub fn build(input: RuleInput, mut base: Rule) -> Result<Rule, String> {
    if let Some(name) = input.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err("name: must be 1 to 200 characters".into());
        }
        name.clone_into(&mut base.name);
    }
    if let Some(when) = input.when {
        if when.is_empty() {
            return Err("when: name at least one of new_issue, regression, unignored, {\"events\", \"minutes\"}".into());
        }
        let mut seen = Vec::new();
        for w in when {
            if let When::Events { events, minutes } = w {
                if !(1..=1_000_000).contains(&events) {
                    return Err("when: events must be 1 to 1000000".into());
                }
                if !(1..=MAX_WINDOW_MINUTES).contains(&minutes) {
                    return Err(format!("when: minutes must be 1 to {MAX_WINDOW_MINUTES}"));
                }
                if seen.iter().any(|s| matches!(s, When::Events { .. })) {
                    return Err("when: one events condition per rule".into());
                }
            }
            if !seen.contains(&w) {
                seen.push(w);
            }
        }
        base.when = seen;
    }
    if let Some(level) = input.min_level {
        base.min_level = level;
    }
    if let Some(envs) = input.environments {
        if envs.len() > 50 || envs.iter().any(|e| e.is_empty() || e.chars().count() > 200) {
            return Err("environments: at most 50 names of 1 to 200 characters".into());
        }
        base.environments = envs;
    }
    if let Some(release) = input.release {
        if release.as_ref().is_some_and(|r| r.is_empty() || r.chars().count() > 200) {
            return Err("release: must be 1 to 200 characters".into());
        }
        base.release = release;
    }
    if let Some(tags) = input.tags {
        if tags.len() > 20
            || tags.iter().any(|(k, v)| k.is_empty() || k.chars().count() > 200 || v.chars().count() > 200)
        {
            return Err("tags: at most 20 keys, keys and values up to 200 characters".into());
        }
        base.tags = tags;
    }
    if let Some(channels) = input.channels {
        let mut channels = channels;
        channels.sort_unstable();
        channels.dedup();
        base.channels = channels;
    }
    if let Some(cooldown) = input.cooldown_minutes {
        if !(0..=MAX_COOLDOWN_MINUTES).contains(&cooldown) {
            return Err(format!("cooldown_minutes: must be 0 (none) to {MAX_COOLDOWN_MINUTES}"));
        }
        base.cooldown_minutes = cooldown;
    }
    if base.name.is_empty() {
        return Err("name: required".into());
    }
    if base.when.is_empty() {
        return Err("when: required".into());
    }
    if base.channels.is_empty() {
        return Err("channels: name at least one channel".into());
    }
    Ok(base)
}

/// A rule with nothing set yet, for `build` to fill in.
pub fn blank(project: ProjectId) -> Rule {
    Rule {
        id: 0,
        project_id: project,
        name: String::new(),
        when: Vec::new(),
        min_level: None,
        environments: Vec::new(),
        release: None,
        tags: BTreeMap::new(),
        channels: Vec::new(),
        cooldown_minutes: DEFAULT_COOLDOWN_MINUTES,
        created_at: chrono::Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorId;

    fn event(level: &'static str, env: Option<&str>, release: Option<&str>, tags: serde_json::Value) -> NewError {
        NewError {
            id: ErrorId::generate(),
            project_id: ProjectId::new(1),
            event_id: uuid::Uuid::new_v4(),
            timestamp: chrono::Utc::now(),
            received_at: chrono::Utc::now(),
            timestamp_assumed: false,
            level,
            message: "m".into(),
            stack_trace: None,
            context: serde_json::json!({"tags": tags}),
            source: "backend",
            url: None,
            fingerprint: "f".into(),
            environment: env.map(str::to_owned),
            release: release.map(str::to_owned),
            platform: None,
            detail: None,
            title: "t".into(),
            culprit: "c".into(),
        }
    }

    fn rule(input: serde_json::Value) -> Rule {
        let mut input = input;
        input["channels"] = serde_json::json!([1]);
        build(serde_json::from_value(input).expect("input"), blank(ProjectId::new(1))).expect("valid rule")
    }

    #[test]
    fn filters_need_every_condition_to_hold() {
        let r = rule(serde_json::json!({"name": "r", "when": ["new_issue"], "min_level": "error",
            "environments": ["production"], "release": "1.0", "tags": {"region": "eu"}}));
        assert!(passes(&r, &event("fatal", Some("production"), Some("1.0"), serde_json::json!({"region": "eu"}))));
        assert!(!passes(&r, &event("warning", Some("production"), Some("1.0"), serde_json::json!({"region": "eu"}))));
        assert!(!passes(&r, &event("error", Some("staging"), Some("1.0"), serde_json::json!({"region": "eu"}))));
        assert!(!passes(&r, &event("error", None, Some("1.0"), serde_json::json!({"region": "eu"}))));
        assert!(!passes(&r, &event("error", Some("production"), Some("1.1"), serde_json::json!({"region": "eu"}))));
        assert!(!passes(&r, &event("error", Some("production"), Some("1.0"), serde_json::json!({"region": "us"}))));
        assert!(!passes(&r, &event("error", Some("production"), Some("1.0"), serde_json::json!({}))));
    }

    #[test]
    fn a_rule_without_filters_passes_everything() {
        let r = rule(serde_json::json!({"name": "r", "when": ["regression"]}));
        assert!(passes(&r, &event("debug", None, None, serde_json::json!(null))));
        assert_eq!(r.cooldown_minutes, DEFAULT_COOLDOWN_MINUTES);
    }

    #[test]
    fn building_a_rule_refuses_what_cannot_work() {
        let bad = |v: serde_json::Value| {
            build(serde_json::from_value(v).expect("input"), blank(ProjectId::new(1))).expect_err("refused")
        };
        assert!(bad(serde_json::json!({"name": "r", "when": [], "channels": [1]})).starts_with("when"));
        assert!(bad(serde_json::json!({"name": "r", "when": ["new_issue"]})).starts_with("channels"));
        assert!(bad(serde_json::json!({"when": ["new_issue"], "channels": [1]})).starts_with("name"));
        assert!(
            bad(serde_json::json!({"name": "r", "when": [{"events": 0, "minutes": 5}], "channels": [1]}))
                .starts_with("when")
        );
        assert!(
            bad(serde_json::json!({"name": "r", "when": [{"events": 5, "minutes": 5000}], "channels": [1]}))
                .starts_with("when")
        );
        assert!(
            bad(serde_json::json!({"name": "r", "when": ["new_issue"], "channels": [1], "cooldown_minutes": -1}))
                .starts_with("cooldown")
        );
        assert!(serde_json::from_value::<RuleInput>(serde_json::json!({"when": ["sometimes"]})).is_err());
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_null_clears_a_filter() {
        let r = rule(serde_json::json!({"name": "r", "when": ["new_issue", {"events": 10, "minutes": 5}],
            "release": "2.0", "cooldown_minutes": 0}));
        let changed =
            build(serde_json::from_value(serde_json::json!({"release": null, "name": "s"})).expect("input"), r.clone())
                .expect("valid");
        assert_eq!(changed.release, None);
        assert_eq!(changed.name, "s");
        assert_eq!(changed.when, r.when);
        assert_eq!(changed.cooldown_minutes, 0);
        assert_eq!(window(&changed), Some((10, 5)));
    }
}
