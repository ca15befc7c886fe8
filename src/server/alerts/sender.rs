//! The sender: takes due deliveries from the outbox (every server process shares the work, each
//! delivery leased to one), renders and sends them, records each try, and decides what comes
//! next — done, retried with backoff (honouring `Retry-After`), or failed with the channel
//! marked broken and the project's admins told. Also runs the periodic chores: cooldown
//! follow-ups, digests, and pruning counts.

use super::render::{self, Message};
use super::{email, sign};
use crate::model::{ChannelKind, TestOutcome, Trigger};
use crate::server::db::alerts::{self as db, Taken, Try, Verdict};
use crate::server::error::ServerError;
use crate::server::metrics::DeliveryOutcome;
use crate::server::state::AppState;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Deliveries one process sends at once.
const CONCURRENCY: usize = 16;
/// How long a taken delivery is its sender's: past it (the sender died) another takes it.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often the sender looks for due deliveries without being woken.
const POLL: Duration = Duration::from_secs(1);
/// How often follow-ups, digests and pruning run.
const CHORES: Duration = Duration::from_secs(5);
/// The first retry comes within this; each next one waits twice as long, up to `MAX_DELAY`.
const FIRST_DELAY: Duration = Duration::from_secs(10);
const MAX_DELAY: Duration = Duration::from_secs(600);
/// The longest wait a receiver's `Retry-After` is honoured for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Runs until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut last_chores = Instant::now() - CHORES;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let free = permits.available_permits();
        let mut full = false;
        if free > 0 {
            match db::take(&state.db, free as i64, LEASE).await {
                Ok(taken) => {
                    full = taken.len() == free;
                    for t in taken {
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        let state = state.clone();
                        tokio::spawn(async move {
                            if let Err(e) = deliver(&state, t).await {
                                tracing::warn!(error = %e, "could not record an alert delivery; it is tried again after its lease");
                            }
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not take alert deliveries"),
            }
        }
        if last_chores.elapsed() >= CHORES {
            last_chores = Instant::now();
            if let Err(e) = chores(&state).await {
                tracing::warn!(error = %e, "alert chores failed");
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = state.alerts.woken() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Follow-ups of ended cooldowns, digests due, old counts.
pub async fn chores(state: &AppState) -> Result<(), ServerError> {
    let mut tx = state.db.begin().await?;
    let written = db::follow_ups(&mut tx, state.alerts.email_configured()).await?;
    tx.commit().await?;
    let digests = super::digest::send_due(state).await?;
    db::prune_counts(&state.db).await?;
    if written + digests > 0 {
        state.alerts.wake();
    }
    Ok(())
}

/// What a receiver did with one try.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// It answered with this status (`retry_after` from its header or body).
    Http { status: u16, retry_after: Option<Duration>, body: String },
    /// No answer (connection, timeout, TLS, SMTP), or we could not even try.
    Failed { error: String, permanent: bool },
    /// The SMTP server took the message.
    Mailed { reply: String },
}

/// The wait before try number `attempts + 1`: 10 s doubling to 10 minutes, jittered down by up
/// to half so retries of many deliveries spread out.
pub fn backoff(attempts: i32, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let full = FIRST_DELAY.saturating_mul(2u32.saturating_pow(exp)).min(MAX_DELAY);
    full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// Decides what a try comes to; also answers until when the whole channel should wait (a 429).
pub fn verdict(
    answer: &Answer,
    attempts: i32,
    now: DateTime<Utc>,
    retry_until: DateTime<Utc>,
    jitter: f64,
) -> (Verdict, Option<DateTime<Utc>>) {
    let retry = |wait: Duration| {
        let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(600));
        if at > retry_until { Verdict::Failed { broken: true } } else { Verdict::Retry(at) }
    };
    match answer {
        Answer::Mailed { .. } => (Verdict::Delivered, None),
        Answer::Http { status, .. } if (200..300).contains(status) => (Verdict::Delivered, None),
        Answer::Http { status: 429, retry_after, .. } => {
            let wait = retry_after.unwrap_or_else(|| backoff(attempts, jitter)).min(MAX_RETRY_AFTER);
            let hold = now + chrono::Duration::from_std(wait).unwrap_or_default();
            (retry(wait), Some(hold))
        }
        Answer::Http { status: 408 | 425, .. } => (retry(backoff(attempts, jitter)), None),
        Answer::Http { status, retry_after, .. } if *status >= 500 => {
            (retry(retry_after.unwrap_or_default().max(backoff(attempts, jitter)).min(MAX_RETRY_AFTER)), None)
        }
        // Every other answer (4xx, a redirect we do not follow) will not change by retrying.
        Answer::Http { .. } => (Verdict::Failed { broken: true }, None),
        Answer::Failed { permanent: true, .. } => (Verdict::Failed { broken: true }, None),
        Answer::Failed { permanent: false, .. } => (retry(backoff(attempts, jitter)), None),
    }
}

/// A number in [0, 1) from the system's randomness.
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// Reads a `Retry-After` header (seconds or an HTTP date) or Discord's `retry_after` (seconds,
/// fractional) from a 429's body.
pub fn retry_after(header: Option<&str>, body: &str, now: DateTime<Utc>) -> Option<Duration> {
    let from_header = header.and_then(|h| {
        let h = h.trim();
        h.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64).or_else(|| {
            DateTime::parse_from_rfc2822(h).ok().map(|at| (at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
        })
    });
    let from_body = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    match (from_header, from_body) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Renders, sends and records one delivery; answers what the receiver said (for **Send test**).
pub async fn deliver(state: &AppState, t: Taken) -> Result<TestOutcome, ServerError> {
    let kind: ChannelKind = t.kind.parse().unwrap_or(ChannelKind::Webhook);
    let message = render::message(&t, &state.settings.public_url);
    let payload = match &t.payload {
        Some(p) => p.clone(),
        None => payload(state, &t, &message, kind).await?,
    };
    let started = Instant::now();
    let answer = match kind {
        ChannelKind::Email => send_email(state, &t, &payload).await,
        _ => send_http(state, &t, kind, &payload).await,
    };
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let now = Utc::now();
    let (verdict, hold) = verdict(&answer, t.attempts, now, t.retry_until, jitter());
    let (status, response, error) = match &answer {
        Answer::Http { status, body, .. } => (Some(i32::from(*status)), Some(body.as_str()), None),
        Answer::Failed { error, .. } => (None, None, Some(error.as_str())),
        Answer::Mailed { reply } => (None, Some(reply.as_str()), None),
    };
    let tried = Try { latency_ms, status, response, error, payload: &payload };
    let mut tx = state.db.begin().await?;
    let broke = db::record(&mut tx, t.id, t.channel_id, &tried, &verdict).await?;
    if let Some(until) = hold {
        db::hold_channel(&mut *tx, t.channel_id, until).await?;
    }
    tx.commit().await?;
    let outcome = match &verdict {
        Verdict::Delivered => DeliveryOutcome::Delivered,
        Verdict::Retry(_) => DeliveryOutcome::Retry,
        Verdict::Failed { .. } => DeliveryOutcome::Failed,
    };
    state.metrics.delivery(kind.as_str(), outcome, started.elapsed());
    match &verdict {
        Verdict::Delivered => tracing::info!(delivery = %t.id, channel = t.channel_id, latency_ms, "alert delivered"),
        Verdict::Retry(at) => {
            tracing::warn!(delivery = %t.id, channel = t.channel_id, ?status, error, next = %at, "alert delivery failed; retrying")
        }
        Verdict::Failed { .. } => {
            tracing::warn!(delivery = %t.id, channel = t.channel_id, ?status, error, "alert delivery failed for good")
        }
    }
    if broke && Trigger::ChannelBroken.as_str() != t.trig {
        tell_admins(state, &t, error.map(str::to_owned).unwrap_or_else(|| describe(&answer))).await?;
    }
    Ok(TestOutcome {
        delivered: verdict == Verdict::Delivered,
        status,
        body: response.map(str::to_owned),
        error: error.map(str::to_owned),
        latency_ms,
    })
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Http { status, body, .. } => format!("HTTP {status} {}", render::fit(body, 200)),
        Answer::Failed { error, .. } => error.clone(),
        Answer::Mailed { reply } => reply.clone(),
    }
}

/// The rendered payload of a delivery, fixed at its first try.
async fn payload(state: &AppState, t: &Taken, m: &Message, kind: ChannelKind) -> Result<String, ServerError> {
    let value = match kind {
        ChannelKind::Slack => render::slack(m),
        ChannelKind::Discord => render::discord(m),
        ChannelKind::Teams => render::teams(m),
        ChannelKind::Ntfy => {
            let topic = t.url.as_deref().and_then(render::ntfy_target).map(|(_, topic)| topic).unwrap_or_default();
            render::ntfy(m, &topic)
        }
        ChannelKind::Webhook => m.data.clone(),
        ChannelKind::Email => {
            let base = state.settings.public_url.trim_end_matches('/');
            let manage = format!("{base}/alerts?project={}", t.project_slug);
            let unsubscribe = match (&t.recipient, t.member_email) {
                (Some(to), true) => {
                    db::unsubscribe_token(&state.db, t.project_id, to, &super::unsubscribe::new_token()?)
                        .await?
                        .map(|token| format!("{base}/unsubscribe/{token}"))
                }
                _ => None,
            };
            let mail = if t.trig == Trigger::Digest.as_str() {
                super::digest::render(m, &t.detail, unsubscribe.as_deref(), &manage)
            } else {
                render::email(m, unsubscribe.as_deref(), &manage)
            };
            serde_json::json!({"subject": mail.subject, "text": mail.text, "html": mail.html, "unsubscribe": unsubscribe})
        }
    };
    serde_json::to_string(&value).map_err(ServerError::Encode)
}

/// Sends an email delivery's stored parts.
async fn send_email(state: &AppState, t: &Taken, payload: &str) -> Answer {
    let Some(mailer) = state.alerts.mailer() else {
        return Answer::Failed {
            error: "email is not configured: set FAULTLINE_SMTP_URL and FAULTLINE_EMAIL_FROM".into(),
            permanent: true,
        };
    };
    let Some(to) = t.recipient.as_deref() else {
        return Answer::Failed { error: "no recipient".into(), permanent: true };
    };
    let parts: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let part = |k: &str| parts.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let (subject, text, html) = (part("subject"), part("text"), part("html"));
    let unsubscribe = parts.get("unsubscribe").and_then(serde_json::Value::as_str);
    let mail = email::Outgoing { id: t.id, subject: &subject, text: &text, html: &html, unsubscribe };
    match mailer.send(to, &mail).await {
        Ok(reply) => Answer::Mailed { reply },
        Err(e) => Answer::Failed { error: e.message, permanent: e.permanent },
    }
}

/// Posts a chat or webhook delivery and reads the receiver's answer.
async fn send_http(state: &AppState, t: &Taken, kind: ChannelKind, payload: &str) -> Answer {
    let Some(url) = t.url.as_deref() else {
        return Answer::Failed { error: "the channel has no URL".into(), permanent: true };
    };
    let target = match kind {
        ChannelKind::Ntfy => render::ntfy_target(url).map(|(root, _)| root),
        _ => Some(url.to_owned()),
    };
    let target = match target.as_deref().map(|u| super::http::check_url(u, state.alerts.allow_private())) {
        Some(Ok(u)) => u,
        Some(Err(e)) => return Answer::Failed { error: format!("target: {e}"), permanent: true },
        None => return Answer::Failed { error: "target: not an ntfy topic URL".into(), permanent: true },
    };
    let mut request =
        state.alerts.http().post(target).header("content-type", "application/json").body(payload.to_owned());
    if kind == ChannelKind::Ntfy
        && let Some(token) = &t.token
    {
        request = request.bearer_auth(token);
    }
    if kind == ChannelKind::Webhook {
        let id = format!("msg_{}", t.id.simple());
        let ts = Utc::now().timestamp();
        let signature = t.secret.as_deref().map(|s| sign::signature(s, &id, ts, payload.as_bytes()));
        request = request.header("webhook-id", id).header("webhook-timestamp", ts.to_string());
        if let Some(sig) = signature {
            request = request.header("webhook-signature", sig);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let header = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = read_capped(response).await;
            let body = match (status, location) {
                (300..=399, Some(to)) => format!("redirected to {to} (redirects are not followed) {body}"),
                _ => body,
            };
            let retry_after = retry_after(header.as_deref(), &body, Utc::now());
            Answer::Http { status, retry_after, body }
        }
        Err(e) => Answer::Failed { error: error_text(&e), permanent: false },
    }
}

/// The first few kilobytes of an answer's body.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= super::http::MAX_ANSWER {
            body.truncate(super::http::MAX_ANSWER);
            break;
        }
    }
    render::fit_bytes(&String::from_utf8_lossy(&body), super::http::MAX_ANSWER)
}

/// A transport error with its causes (reqwest's own text names only the outermost).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    render::fit(&text, 500)
}

/// A channel just turned broken: tells the project's admins through another channel (their
/// email when it can be sent, else another working channel; the dashboard shows it anyway).
async fn tell_admins(state: &AppState, t: &Taken, error: String) -> Result<(), ServerError> {
    let others = db::notice_channels(&state.db, t.project_id, t.channel_id).await?;
    let detail = serde_json::json!({"channel": t.channel_name, "channel_id": t.channel_id, "error": error});
    let email = others.iter().find(|(_, kind)| kind == "email").filter(|_| state.alerts.email_configured());
    let mut written = 0;
    if let Some((channel, _)) = email {
        for to in db::admin_emails(&state.db, t.project_id).await? {
            db::insert_delivery(&state.db, t.project_id, *channel, Trigger::ChannelBroken, Some(&to), &detail, false)
                .await?;
            written += 1;
        }
    }
    if written == 0
        && let Some((channel, _)) = others.iter().find(|(_, kind)| kind != "email")
    {
        db::insert_delivery(&state.db, t.project_id, *channel, Trigger::ChannelBroken, None, &detail, false).await?;
        written += 1;
    }
    tracing::warn!(channel = t.channel_id, notices = written, "alert channel is broken");
    state.alerts.wake();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).expect("time")
    }

    fn http(status: u16, retry_after: Option<u64>) -> Answer {
        Answer::Http { status, retry_after: retry_after.map(Duration::from_secs), body: String::new() }
    }

    #[test]
    fn successes_of_every_receiver_are_delivered() {
        for status in [200, 202, 204] {
            assert_eq!(verdict(&http(status, None), 1, at(0), at(86_400), 0.0).0, Verdict::Delivered);
        }
    }

    #[test]
    fn retries_start_within_ten_seconds_and_double_to_ten_minutes() {
        assert!(backoff(1, 0.0) <= Duration::from_secs(10) && backoff(1, 1.0) >= Duration::from_secs(5));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(20));
        assert_eq!(backoff(20, 0.0), Duration::from_secs(600));
        for status in [500, 502, 503, 408] {
            assert_eq!(verdict(&http(status, None), 1, at(0), at(86_400), 0.0).0, Verdict::Retry(at(10)));
        }
        let down = Answer::Failed { error: "connection refused".into(), permanent: false };
        assert_eq!(verdict(&down, 3, at(0), at(86_400), 0.0).0, Verdict::Retry(at(40)));
    }

    #[test]
    fn a_429_waits_as_long_as_the_receiver_asks_and_holds_the_channel() {
        let (v, hold) = verdict(&http(429, Some(120)), 1, at(0), at(86_400), 0.0);
        assert_eq!(v, Verdict::Retry(at(120)));
        assert_eq!(hold, Some(at(120)));
    }

    #[test]
    fn permanent_refusals_stop_and_break_the_channel() {
        for status in [400, 401, 403, 404, 410, 301] {
            assert_eq!(verdict(&http(status, None), 1, at(0), at(86_400), 0.0).0, Verdict::Failed { broken: true });
        }
    }

    #[test]
    fn retrying_ends_after_its_day() {
        assert_eq!(verdict(&http(503, None), 9, at(86_000), at(86_400), 0.0).0, Verdict::Failed { broken: true });
    }

    #[test]
    fn retry_after_is_read_from_the_header_or_discords_body() {
        let now = at(0);
        assert_eq!(retry_after(Some("30"), "", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after(None, r#"{"message": "rate limited", "retry_after": 1.5, "global": false}"#, now),
            Some(Duration::from_millis(1500))
        );
        let date = (now + chrono::Duration::seconds(90)).to_rfc2822();
        assert_eq!(retry_after(Some(&date), "", now), Some(Duration::from_secs(90)));
        assert_eq!(retry_after(Some("soon"), "not json", now), None);
    }
}
