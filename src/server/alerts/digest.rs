//! Email digests: the alerts a member chose to get hourly or daily, gathered into one email.

use super::render::{self, Email, Message, html_escape};
use crate::model::Trigger;
use crate::server::error::ServerError;
use crate::server::state::AppState;
use serde_json::Value;

/// Writes the digests that are due into the outbox; answers how many.
pub async fn send_due(state: &AppState) -> Result<u64, ServerError> {
    let mut tx = state.db.begin().await?;
    let n = crate::server::db::alerts::digests_due(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// The most alerts a digest lists one by one (it counts all).
const LISTED: usize = 100;

/// Renders a digest email from its delivery's detail (`items`, `count`).
pub fn render(m: &Message, detail: &Value, unsubscribe: Option<&str>, manage: &str) -> Email {
    let base = m.url.split("/alerts?").next().unwrap_or(&m.url).to_owned();
    let items = detail.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let count = detail.get("count").and_then(Value::as_i64).unwrap_or(items.len() as i64);
    let mut text = format!("{count} alerts in {} since the last digest.\n\n", m.project);
    let mut rows = String::new();
    for item in items.iter().take(LISTED) {
        let title = render::fit(item.get("title").and_then(Value::as_str).unwrap_or("(deleted issue)"), 200);
        let trigger = item.get("trigger").and_then(Value::as_str).and_then(|t| t.parse::<Trigger>().ok());
        let label = trigger.map_or("Alert", Trigger::label);
        let url = match item.get("issue_id").and_then(Value::as_i64) {
            Some(id) => format!("{base}/issues/{id}"),
            None => base.clone(),
        };
        text.push_str(&format!("- {label}: {title}\n  {url}\n"));
        rows.push_str(&format!(
            "<li>{}: <a href=\"{}\">{}</a></li>",
            html_escape(label),
            html_escape(&url),
            html_escape(&title)
        ));
    }
    if items.len() > LISTED {
        text.push_str(&format!("… and {} more\n", items.len() - LISTED));
        rows.push_str(&format!("<li>… and {} more</li>", items.len() - LISTED));
    }
    text.push_str(&format!("\nAlert settings: {manage}\n"));
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{count} alerts in {} since the last digest.</p><ul>{rows}</ul>\
         <p style=\"color:#666;font-size:12px\"><a href=\"{}\">Alert settings</a>",
        html_escape(&m.project),
        html_escape(manage)
    );
    if let Some(u) = unsubscribe {
        text.push_str(&format!("Unsubscribe from this project's alerts: {u}\n"));
        html.push_str(&format!(" · <a href=\"{}\">Unsubscribe from this project's alerts</a>", html_escape(u)));
    }
    html.push_str("</p></body></html>");
    Email { subject: render::fit(&format!("[{}] Digest: {count} alerts", m.project), 200), text, html }
}
