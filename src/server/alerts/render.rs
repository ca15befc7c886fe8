//! Renders one alert for its receiver: Slack blocks, a Discord embed, a Teams Adaptive Card, an
//! ntfy message, the generic webhook body, an email. Whatever the event holds, the result fits
//! the receiver's limits, shows markup characters as text, and links to the issue's page.

use crate::model::Trigger;
use crate::server::db::alerts::Taken;
use serde_json::{Value, json};

/// The parts of an alert every receiver shows.
pub struct Message {
    pub trigger: Trigger,
    pub project: String,
    /// The issue's title, or what a message without an issue is about.
    pub title: String,
    pub culprit: String,
    /// What happened, in one line ("Regression in 1.4.3", "+37 events").
    pub summary: String,
    /// Labelled facts: project, level, events, environment, release…
    pub facts: Vec<(&'static str, String)>,
    /// The issue's page (or the project's alerts page).
    pub url: String,
    pub level: String,
    /// The webhook body's JSON (everything, unshortened).
    pub data: Value,
}

/// Shortens `s` to at most `max` characters, ending with `…` when cut.
pub fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Shortens `s` to at most `max` bytes (on a character boundary), ending with `…` when cut.
pub fn fit_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One line, no control characters (for titles, subjects and headers).
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

/// Escapes Slack's `mrkdwn` control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Backslash-escapes Markdown (Discord, Teams) so text shows as written.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '#' | '-' | '@' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What happened, in one line.
fn summary(trigger: Trigger, detail: &Value, channel_name: &str) -> String {
    let s = |k: &str| detail.get(k).and_then(Value::as_str).map(one_line);
    let n = |k: &str| detail.get(k).and_then(Value::as_i64);
    match trigger {
        Trigger::NewIssue => "New issue".to_owned(),
        Trigger::Regression => match s("release") {
            Some(r) => format!("Regression in {r}"),
            None => "Regression: a resolved issue came back".to_owned(),
        },
        Trigger::Events => {
            format!("{} events in {} minutes", n("events").unwrap_or(0), n("minutes").unwrap_or(0))
        }
        Trigger::Unignored => "Ignored issue is back: it passed what it was ignored until".to_owned(),
        Trigger::Followup => {
            let mut parts = vec![format!("+{} events", n("events_since").unwrap_or(0))];
            let held = detail.get("held").and_then(Value::as_array).cloned().unwrap_or_default();
            for h in &held {
                let trig = h.get("trigger").and_then(Value::as_str).and_then(|t| t.parse::<Trigger>().ok());
                let what = match trig {
                    Some(Trigger::Regression) => "regression".to_owned(),
                    Some(Trigger::Events) => "frequency threshold reached again".to_owned(),
                    Some(Trigger::Unignored) => "back from ignored".to_owned(),
                    Some(t) => t.label().to_lowercase(),
                    None => "trigger".to_owned(),
                };
                match h.get("release").and_then(Value::as_str) {
                    Some(r) => parts.push(format!("{what} in {}", one_line(r))),
                    None => parts.push(what),
                }
            }
            let more = n("held_count").unwrap_or(0) - held.len() as i64;
            if more > 0 {
                parts.push(format!("{more} more"));
            }
            format!("{} (held back during the cooldown)", parts.join(", "))
        }
        Trigger::Test => "Test message: this channel works".to_owned(),
        Trigger::ChannelBroken => format!(
            "Alert channel “{}” stopped working: {}",
            one_line(s("channel").as_deref().unwrap_or(channel_name)),
            s("error").unwrap_or_else(|| "refused".into())
        ),
        Trigger::Digest => "Digest".to_owned(),
    }
}

/// Gathers what a delivery's message says.
pub fn message(t: &Taken, public_url: &str) -> Message {
    let trigger = t.trig.parse().unwrap_or(Trigger::Test);
    let base = public_url.trim_end_matches('/');
    let url = match t.issue_id {
        Some(id) => format!("{base}/issues/{id}"),
        None => format!("{base}/alerts?project={}", t.project_slug),
    };
    let title = match (&t.title, trigger) {
        (Some(title), _) => one_line(title),
        (None, Trigger::Test) => "faultline test message".to_owned(),
        (None, Trigger::ChannelBroken) => "An alert channel stopped working".to_owned(),
        (None, _) => "faultline alert".to_owned(),
    };
    let level = t
        .detail
        .get("level")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| t.level.clone())
        .unwrap_or_else(|| "info".into());
    let mut facts = vec![("Project", t.project_name.clone())];
    if t.issue_id.is_some() {
        facts.push(("Level", level.clone()));
        if let Some(c) = t.event_count {
            facts.push(("Events", c.to_string()));
        }
    }
    for (label, key) in [("Environment", "environment"), ("Release", "release")] {
        if let Some(v) = t.detail.get(key).and_then(Value::as_str) {
            facts.push((label, one_line(v)));
        }
    }
    if let Some(first) = t.first_seen {
        facts.push(("First seen", first.format("%Y-%m-%d %H:%M UTC").to_string()));
    }
    let summary = summary(trigger, &t.detail, &t.channel_name);
    let issue = t.issue_id.map(|id| {
        json!({
            "id": id, "title": t.title, "culprit": t.culprit, "level": t.level, "status": t.issue_status,
            "count": t.event_count, "first_seen": t.first_seen, "last_seen": t.last_seen, "url": url,
        })
    });
    let data = json!({
        "type": "alert",
        "id": t.id,
        "trigger": trigger.as_str(),
        "summary": summary,
        "project": {"id": t.project_id, "name": t.project_name, "slug": t.project_slug},
        "issue": issue,
        "event": {
            "level": t.detail.get("level"),
            "environment": t.detail.get("environment"),
            "release": t.detail.get("release"),
        },
        "rule": t.rule_name.as_ref().map(|name| json!({"name": name})),
        "detail": t.detail,
        "url": url,
    });
    Message {
        trigger,
        project: t.project_name.clone(),
        culprit: one_line(t.culprit.as_deref().unwrap_or_default()),
        title,
        summary,
        facts,
        url,
        level,
        data,
    }
}

/// The subject line of an email (and the heading of a chat message).
pub fn heading(m: &Message) -> String {
    fit(&format!("[{}] {}: {}", one_line(&m.project), m.trigger.label(), m.title), 200)
}

/// A Slack incoming-webhook body: `text` (the notification and fallback) plus `blocks`.
pub fn slack(m: &Message) -> Value {
    let fields: Vec<Value> = m
        .facts
        .iter()
        .take(10)
        .map(|(k, v)| json!({"type": "mrkdwn", "text": fit(&format!("*{k}*\n{}", slack_escape(v)), 1900)}))
        .collect();
    let mut body = slack_escape(&m.summary);
    if !m.culprit.is_empty() {
        body.push_str(&format!("\n`{}`", slack_escape(&m.culprit.replace('`', "'"))));
    }
    json!({
        "text": fit(&format!("{} {}", slack_escape(&heading(m)), m.url), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": fit(&format!("{}: {}", m.trigger.label(), m.title), 150), "emoji": false}},
            {"type": "section", "text": {"type": "mrkdwn", "text": fit(&body, 2900)}},
            {"type": "section", "fields": fields},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "View issue"}, "url": fit(&m.url, 3000)}
            ]},
        ],
    })
}

/// Discord's embed colours by what happened.
fn discord_colour(t: Trigger) -> u32 {
    match t {
        Trigger::NewIssue => 0xd9_48_3b,
        Trigger::Regression | Trigger::Unignored => 0xe8_8b_1a,
        Trigger::Events | Trigger::Followup => 0xc0_5a_1f,
        Trigger::ChannelBroken => 0x99_1f_1f,
        Trigger::Test | Trigger::Digest => 0x3b_7d_d9,
    }
}

/// A Discord webhook body: one embed within Discord's limits (title 256, description 4096,
/// field 256/1024, 6000 in all), with mentions off.
pub fn discord(m: &Message) -> Value {
    let mut description = md_escape(&m.summary);
    if !m.culprit.is_empty() {
        description.push_str("\n\n");
        description.push_str(&md_escape(&fit(&m.culprit, 500)));
    }
    let fields: Vec<Value> = m
        .facts
        .iter()
        .take(8)
        .map(|(k, v)| json!({"name": *k, "value": fit(&md_escape(v), 200), "inline": true}))
        .collect();
    json!({
        "content": fit(&md_escape(&heading(m)), 300),
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": fit(&md_escape(&format!("{}: {}", m.trigger.label(), m.title)), 256),
            "description": fit(&description, 2000),
            "url": m.url,
            "color": discord_colour(m.trigger),
            "fields": fields,
            "footer": {"text": fit(&format!("faultline · {}", m.project), 200)},
        }],
    })
}

/// A Microsoft Teams Workflows body: a message with one Adaptive Card.
pub fn teams(m: &Message) -> Value {
    let facts: Vec<Value> =
        m.facts.iter().map(|(k, v)| json!({"title": *k, "value": fit(&md_escape(v), 300)})).collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": fit(&md_escape(&format!("{}: {}", m.trigger.label(), m.title)), 500),
               "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "TextBlock", "text": fit(&md_escape(&m.summary), 1000), "wrap": true}),
    ];
    if !m.culprit.is_empty() {
        body.push(
            json!({"type": "TextBlock", "text": fit(&md_escape(&m.culprit), 500), "wrap": true, "isSubtle": true}),
        );
    }
    body.push(json!({"type": "FactSet", "facts": facts}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "View issue", "url": m.url}],
            },
        }],
    })
}

/// An ntfy JSON publish body for `topic` (posted to the server's root): title, a message within
/// ntfy's 4096 bytes, priority by level, a click link.
pub fn ntfy(m: &Message, topic: &str) -> Value {
    let priority = match m.level.as_str() {
        "fatal" => 5,
        "error" => 4,
        "warning" => 3,
        _ => 2,
    };
    let tag = match m.trigger {
        Trigger::Test => "white_check_mark",
        Trigger::ChannelBroken => "no_entry",
        _ if priority >= 4 => "rotating_light",
        _ => "warning",
    };
    let mut text = m.summary.clone();
    if !m.culprit.is_empty() {
        text.push('\n');
        text.push_str(&m.culprit);
    }
    for (k, v) in &m.facts {
        text.push_str(&format!("\n{k}: {v}"));
    }
    json!({
        "topic": topic,
        "title": fit_bytes(&format!("{}: {}", m.trigger.label(), m.title), 250),
        "message": fit_bytes(&text, 3500),
        "priority": priority,
        "tags": [tag],
        "click": m.url,
        "actions": [{"action": "view", "label": "View issue", "url": m.url}],
    })
}

/// Splits an ntfy topic URL (`https://ntfy.sh/alerts`) into the server's root and the topic.
pub fn ntfy_target(url: &str) -> Option<(String, String)> {
    let mut parsed = reqwest::Url::parse(url).ok()?;
    let topic = parsed.path_segments()?.rfind(|s| !s.is_empty())?.to_owned();
    let path = parsed.path().trim_end_matches('/').to_owned();
    let root = path.strip_suffix(topic.as_str())?.to_owned();
    parsed.set_path(&root);
    parsed.set_query(None);
    Some((parsed.to_string(), topic))
}

/// An email: subject, text and HTML parts.
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders an email; `unsubscribe` is the one-click link of a member's alert email.
pub fn email(m: &Message, unsubscribe: Option<&str>, manage: &str) -> Email {
    let mut text = format!("{}\n\n{}\n", m.summary, m.title);
    if !m.culprit.is_empty() {
        text.push_str(&format!("{}\n", m.culprit));
    }
    text.push('\n');
    for (k, v) in &m.facts {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push_str(&format!("\nView the issue: {}\n", m.url));
    text.push_str(&format!("\nAlert settings: {manage}\n"));
    if let Some(u) = unsubscribe {
        text.push_str(&format!("Unsubscribe from this project's alerts: {u}\n"));
    }
    let facts: String = m
        .facts
        .iter()
        .map(|(k, v)| format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>", html_escape(k), html_escape(v)))
        .collect();
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>{}</p><h2 style=\"font-size:18px\"><a href=\"{url}\">{}</a></h2>",
        html_escape(&m.summary),
        html_escape(&m.title),
        url = html_escape(&m.url),
    );
    if !m.culprit.is_empty() {
        html.push_str(&format!("<p><code>{}</code></p>", html_escape(&m.culprit)));
    }
    html.push_str(&format!(
        "<table>{facts}</table><p><a href=\"{url}\">View the issue</a></p>\
         <p style=\"color:#666;font-size:12px\"><a href=\"{manage}\">Alert settings</a>",
        url = html_escape(&m.url),
        manage = html_escape(manage),
    ));
    if let Some(u) = unsubscribe {
        html.push_str(&format!(" · <a href=\"{}\">Unsubscribe from this project's alerts</a>", html_escape(u)));
    }
    html.push_str("</p></body></html>");
    Email { subject: heading(m), text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Message {
        let title = format!("<script>alert(1)</script> **@everyone** 🔥{}", "é🙂x".repeat(3500));
        Message {
            trigger: Trigger::Regression,
            project: "shop <&>".into(),
            title: one_line(&title),
            culprit: "app.js in <anonymous> `x` ".repeat(300),
            summary: "Regression in 1.4.3 <b>".into(),
            facts: vec![("Project", "shop".into()), ("Release", "1.4.3 ".repeat(200))],
            url: "https://errors.example.com/issues/7".into(),
            level: "error".into(),
            data: json!({}),
        }
    }

    fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn discord_embeds_stay_within_discords_limits() {
        let d = discord(&hostile());
        let e = &d["embeds"][0];
        assert!(chars(&d["content"]) <= 2000);
        assert!(chars(&e["title"]) <= 256);
        assert!(chars(&e["description"]) <= 4096);
        let mut total = chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
        for f in e["fields"].as_array().expect("fields") {
            assert!(chars(&f["name"]) <= 256 && chars(&f["value"]) <= 1024);
            total += chars(&f["name"]) + chars(&f["value"]);
        }
        assert!(total <= 6000, "{total}");
        assert_eq!(d["allowed_mentions"]["parse"], json!([]));
        assert!(e["title"].as_str().expect("title").contains("\\*\\*\\@everyone\\*\\*"));
        assert_eq!(e["url"], "https://errors.example.com/issues/7");
    }

    #[test]
    fn slack_messages_escape_markup_and_fit_block_limits() {
        let s = slack(&hostile());
        let text = s["text"].as_str().expect("text");
        assert!(!text.contains("<script>") && text.contains("&lt;script&gt;"));
        assert!(text.ends_with("https://errors.example.com/issues/7"));
        assert!(chars(&s["blocks"][0]["text"]["text"]) <= 150);
        assert!(chars(&s["blocks"][1]["text"]["text"]) <= 3000);
        assert!(s["blocks"][2]["fields"].as_array().expect("fields").len() <= 10);
        assert_eq!(s["blocks"][3]["elements"][0]["url"], "https://errors.example.com/issues/7");
    }

    #[test]
    fn ntfy_messages_stay_under_its_attachment_size() {
        let n = ntfy(&hostile(), "alerts");
        assert!(n["message"].as_str().expect("message").len() <= 4096);
        assert!(n["title"].as_str().expect("title").len() <= 250);
        assert_eq!(n["priority"], 4);
        assert_eq!(n["click"], "https://errors.example.com/issues/7");
        assert_eq!(ntfy_target("https://ntfy.sh/alerts"), Some(("https://ntfy.sh/".into(), "alerts".into())));
        assert_eq!(
            ntfy_target("http://127.0.0.1:8080/base/my-topic?x=1"),
            Some(("http://127.0.0.1:8080/base/".into(), "my-topic".into()))
        );
    }

    #[test]
    fn emails_escape_html_and_keep_one_line_subjects() {
        let mut m = hostile();
        m.title = one_line("line one\r\nBcc: someone@example.com");
        let e = email(&m, Some("https://errors.example.com/unsubscribe/abc"), "https://errors.example.com/alerts");
        assert!(!e.subject.contains('\n') && !e.subject.contains('\r'));
        assert!(e.subject.starts_with("[shop <&>] Regression: line one"));
        assert!(!e.html.contains("<script>") && e.html.contains("&lt;b&gt;"));
        assert!(e.text.contains("https://errors.example.com/issues/7"));
        assert!(e.html.contains("https://errors.example.com/unsubscribe/abc"));
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        assert_eq!(fit("héllo", 3), "hé…");
        assert_eq!(fit("hé", 3), "hé");
        let cut = fit_bytes("🙂🙂🙂", 9);
        assert!(cut.len() <= 9 && cut.ends_with('…'));
    }
}
