//! Alerts end to end against local receivers that answer as the real services do: rules fire
//! on new issues, regressions, volume (counting only events that pass the filters) and ignored
//! issues coming back; each message arrives once per channel, fits the receiver and links to
//! the issue; cooldowns hold repeats for one follow-up; retries honour `Retry-After`; a
//! permanent refusal breaks the channel and tells the admins; the delivery log, redelivery and
//! test messages; email with per-member preferences, digests and unsubscribe.

use crate::helpers::{ADMIN_EMAIL, KEY, TestApp, bearer_call as call};
use crate::receivers::{Receiver, Reply, Smtp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use faultline::model::{InstanceRole, ProjectId, ProjectRole, TokenScope, UserId};
use faultline::server::accounts::tokens;
use faultline::server::alerts::sender;
use faultline::server::db;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);

/// An instance admin who is also an admin member of the default project, and their admin token.
async fn owner(app: &TestApp) -> (UserId, String) {
    app.session().await;
    let id = db::users::find_by_email(&app.state.db, ADMIN_EMAIL).await.unwrap().unwrap().id;
    db::projects::set_member(&app.state.db, app.project, id, ProjectRole::Admin).await.unwrap();
    (id, tokens::create(&app.state, id, "alerts", TokenScope::Admin, None).await.unwrap().token)
}

/// Starts this app's sender (as every server process runs one).
fn start_sender(app: &TestApp) {
    tokio::spawn(sender::run(app.state.clone(), app.state.shutdown.subscribe()));
}

async fn channel(app: &TestApp, token: &str, project: ProjectId, body: Value) -> Value {
    let a = call(app, Method::POST, &format!("/api/projects/{project}/channels"), token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body
}

async fn rule(app: &TestApp, token: &str, project: ProjectId, body: Value) -> Value {
    let a = call(app, Method::POST, &format!("/api/projects/{project}/rules"), token, Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body
}

/// Removes the project's default rule, so a test hears only its own.
async fn without_default_rule(app: &TestApp) {
    sqlx::query("DELETE FROM alert_rules WHERE project_id = $1")
        .bind(app.project)
        .execute(&app.state.db)
        .await
        .unwrap();
}

/// Stores one error (through the REST API and the inline worker); answers its issue id.
async fn error(app: &TestApp, body: Value) -> i64 {
    let id = app.post_error(body).await;
    app.process().await;
    app.get(&format!("/api/errors/{id}")).await.body["issue_id"].as_i64().unwrap()
}

async fn deliveries(app: &TestApp, token: &str, channel: i64) -> Vec<Value> {
    let a =
        call(app, Method::GET, &format!("/api/projects/{}/channels/{channel}/deliveries", app.project), token, None)
            .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["deliveries"].as_array().unwrap().clone()
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Checks a Discord body against Discord's documented limits.
fn assert_fits_discord(d: &Value) {
    assert!(chars(&d["content"]) <= 2000);
    let embeds = d["embeds"].as_array().unwrap();
    assert!(!embeds.is_empty() && embeds.len() <= 10);
    let mut total = 0;
    for e in embeds {
        assert!(chars(&e["title"]) <= 256 && chars(&e["description"]) <= 4096);
        assert!(e["fields"].as_array().map_or(0, Vec::len) <= 25);
        total += chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
        for f in e["fields"].as_array().into_iter().flatten() {
            assert!(chars(&f["name"]) <= 256 && chars(&f["value"]) <= 1024);
            total += chars(&f["name"]) + chars(&f["value"]);
        }
    }
    assert!(total <= 6000, "{total} characters in embeds");
}

/// Checks a Slack body: `text` and `blocks` within Block Kit's limits.
fn assert_fits_slack(s: &Value) {
    assert!(s["text"].is_string() && chars(&s["text"]) <= 40_000);
    let blocks = s["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    assert_eq!(blocks[0]["type"], "header");
    assert!(chars(&blocks[0]["text"]["text"]) <= 150);
    for b in blocks {
        assert!(chars(&b["text"]["text"]) <= 3000);
        for f in b["fields"].as_array().into_iter().flatten() {
            assert!(chars(&f["text"]) <= 2000);
        }
    }
}

/// Checks a Teams Workflows body: a message whose one attachment is an Adaptive Card.
fn assert_teams_card(t: &Value) {
    assert_eq!(t["type"], "message");
    let a = &t["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(a["content"]["type"], "AdaptiveCard");
    assert!(a["content"]["body"].as_array().is_some_and(|b| !b.is_empty()));
    assert!(serde_json::to_vec(t).unwrap().len() < 28 * 1024, "Teams cards must stay under 28 KB");
}

/// Verifies a Standard Webhooks signature as a receiver would.
fn verify_signature(secret: &str, seen: &crate::receivers::Seen) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let id = seen.header("webhook-id").unwrap();
    let ts = seen.header("webhook-timestamp").unwrap();
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!(age.abs() < 300, "timestamp within five minutes");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&seen.body);
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    seen.header("webhook-signature").unwrap().split(' ').any(|s| s == expected)
}

#[sqlx::test]
async fn a_new_issue_reaches_every_channel_once_within_two_seconds_fitting_each_receiver(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let slack = Receiver::start(Reply::new(200, "ok")).await;
    let discord = Receiver::start(Reply::new(204, "")).await;
    let teams = Receiver::start(Reply::new(202, "")).await;
    let ntfy = Receiver::start(Reply::new(200, r#"{"id":"x"}"#)).await;
    let hook = Receiver::start(Reply::new(200, "")).await;
    let p = app.project;
    let mut ids = Vec::new();
    for (kind, r) in [("slack", &slack), ("discord", &discord), ("teams", &teams), ("webhook", &hook)] {
        ids.push(channel(&app, &token, p, json!({"kind": kind, "name": kind, "url": r.url})).await["id"].clone());
    }
    let n = channel(&app, &token, p, json!({"kind": "ntfy", "name": "phone", "url": format!("http://127.0.0.1:{}/alerts", ntfy.port), "token": "tk_1"})).await;
    ids.push(n["id"].clone());
    let secret = call(&app, Method::GET, &format!("/api/projects/{p}/channels"), &token, None).await;
    assert!(secret.body.to_string().find("whsec_").is_none(), "a listed channel never shows its secret");
    let made = call(
        &app,
        Method::PATCH,
        &format!("/api/projects/{p}/channels/{}", ids[3]),
        &token,
        Some(json!({"rotate_secret": true})),
    )
    .await;
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    rule(&app, &token, p, json!({"name": "everything new", "when": ["new_issue"], "channels": ids})).await;
    start_sender(&app);

    let title = format!("<script>alert(1)</script> **@everyone** 🔥 {}", "é🙂".repeat(5000));
    let issue =
        error(&app, json!({"message": title, "level": "error", "environment": "production", "release": "1.4.3"})).await;
    let processed = Instant::now();
    for r in [&slack, &discord, &teams, &ntfy, &hook] {
        let seen = r.wait_for(1, WAIT).await;
        assert_eq!(seen.len(), 1, "one message per channel");
        assert!(seen[0].at.duration_since(processed) < Duration::from_secs(2), "within 2 s of processing");
    }
    let url = format!("http://127.0.0.1:3000/issues/{issue}");
    let s = slack.seen()[0].json();
    assert_fits_slack(&s);
    let text = s["text"].as_str().unwrap();
    assert!(text.ends_with(&url) && !text.contains("<script>") && text.contains("&lt;script&gt;"), "{text}");
    let d = discord.seen()[0].json();
    assert_fits_discord(&d);
    assert_eq!(d["embeds"][0]["url"], url.as_str());
    assert_eq!(d["allowed_mentions"]["parse"], json!([]));
    let t = teams.seen()[0].json();
    assert_teams_card(&t);
    assert_eq!(t["attachments"][0]["content"]["actions"][0]["url"], url.as_str());
    let n = &ntfy.seen()[0];
    assert_eq!(n.path, "/");
    assert_eq!(n.header("authorization"), Some("Bearer tk_1"));
    let nj = n.json();
    assert_eq!(
        (nj["topic"].as_str(), nj["click"].as_str(), nj["priority"].as_i64()),
        (Some("alerts"), Some(url.as_str()), Some(4))
    );
    assert!(nj["message"].as_str().unwrap().len() <= 4096);
    let h = &hook.seen()[0];
    assert!(verify_signature(&secret, h), "the webhook is signed with the channel's secret");
    let body = h.json();
    assert_eq!(body["trigger"], "new_issue");
    assert_eq!(body["issue"]["id"], issue);
    assert_eq!(body["issue"]["url"], url.as_str());
    assert_eq!(
        (body["event"]["environment"].as_str(), body["event"]["release"].as_str()),
        (Some("production"), Some("1.4.3"))
    );
    assert_eq!(body["project"]["id"], p.get());

    // The log shows each one delivered after one try; no second message comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        let log = deliveries(&app, &token, id.as_i64().unwrap()).await;
        assert_eq!(log.len(), 1);
        assert_eq!((log[0]["status"].as_str(), log[0]["attempts"].as_i64()), (Some("delivered"), Some(1)));
        assert_eq!(log[0]["issue_id"], issue);
        assert!(log[0]["tries"][0]["payload"].as_str().is_some_and(|p| p.contains(&format!("/issues/{issue}"))));
    }
    assert_eq!(slack.seen().len() + discord.seen().len() + hook.seen().len(), 3);
}

#[sqlx::test]
async fn regressions_and_ignored_issues_coming_back_alert_but_more_events_do_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let hook = Receiver::start(Reply::new(204, "")).await;
    let c = channel(&app, &token, app.project, json!({"kind": "webhook", "name": "hook", "url": hook.url})).await;
    rule(
        &app,
        &token,
        app.project,
        json!({"name": "back", "when": ["regression", "unignored"], "channels": [c["id"]], "cooldown_minutes": 0}),
    )
    .await;
    start_sender(&app);
    let issue = error(&app, json!({"message": "flaky", "fingerprint": "flaky"})).await;
    error(&app, json!({"message": "flaky", "fingerprint": "flaky"})).await;
    assert!(
        hook.wait_for(1, Duration::from_millis(800)).await.is_empty(),
        "new issues and repeats are not this rule's"
    );
    let a = app.request(Method::PUT, &format!("/api/issues/{issue}/resolve"), Some(KEY), None).await;
    assert_eq!(a.status, StatusCode::OK);
    error(&app, json!({"message": "flaky", "fingerprint": "flaky", "release": "2.0.1"})).await;
    let seen = hook.wait_for(1, WAIT).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].json()["trigger"].as_str(), seen[0].json()["summary"].as_str()),
        (Some("regression"), Some("Regression in 2.0.1"))
    );
    let body = Body::from(json!({"until_events": 2}).to_string());
    app.request(Method::PUT, &format!("/api/issues/{issue}/ignore"), Some(KEY), Some(body)).await;
    error(&app, json!({"message": "flaky", "fingerprint": "flaky"})).await;
    assert_eq!(hook.wait_for(2, Duration::from_millis(800)).await.len(), 1, "still ignored after one event");
    error(&app, json!({"message": "flaky", "fingerprint": "flaky"})).await;
    let seen = hook.wait_for(2, WAIT).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].json()["trigger"], "unignored");
}

#[sqlx::test]
async fn a_volume_rule_counts_only_events_that_pass_its_filters(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let hook = Receiver::start(Reply::new(200, "")).await;
    let c = channel(&app, &token, app.project, json!({"kind": "webhook", "name": "hook", "url": hook.url})).await;
    rule(
        &app,
        &token,
        app.project,
        json!({"name": "storm in production", "when": [{"events": 3, "minutes": 10}],
        "environments": ["production"], "min_level": "error", "tags": {"region": "eu"}, "channels": [c["id"]]}),
    )
    .await;
    start_sender(&app);
    let event = |env: &str, level: &str, region: &str| json!({"message": "storm", "fingerprint": "storm", "environment": env, "level": level, "context": {"tags": {"region": region}}});
    for _ in 0..4 {
        error(&app, event("staging", "error", "eu")).await;
        error(&app, event("production", "warning", "eu")).await;
        error(&app, event("production", "error", "us")).await;
    }
    error(&app, event("production", "error", "eu")).await;
    error(&app, event("production", "error", "eu")).await;
    assert!(hook.wait_for(1, Duration::from_millis(800)).await.is_empty(), "14 events, 2 of them passing");
    error(&app, event("production", "error", "eu")).await;
    let seen = hook.wait_for(1, WAIT).await;
    assert_eq!(seen.len(), 1);
    let body = seen[0].json();
    assert_eq!((body["trigger"].as_str(), body["detail"]["events"].as_i64()), (Some("events"), Some(3)));
    error(&app, event("production", "error", "eu")).await;
    assert_eq!(
        hook.wait_for(2, Duration::from_millis(800)).await.len(),
        1,
        "fires when the count is reached, not on every event past it"
    );
}

#[sqlx::test]
async fn a_cooldown_holds_repeats_of_one_issue_for_one_follow_up_but_not_other_issues(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let hook = Receiver::start(Reply::new(200, "")).await;
    let c = channel(&app, &token, app.project, json!({"kind": "webhook", "name": "hook", "url": hook.url})).await;
    let r = rule(
        &app,
        &token,
        app.project,
        json!({"name": "all", "when": ["new_issue", "regression"], "channels": [c["id"]]}),
    )
    .await;
    assert_eq!(r["cooldown_minutes"], 30, "the default cooldown");
    start_sender(&app);
    let issue = error(&app, json!({"message": "a", "fingerprint": "a"})).await;
    for release in ["1.4.2", "1.4.3"] {
        app.request(Method::PUT, &format!("/api/issues/{issue}/resolve"), Some(KEY), None).await;
        error(&app, json!({"message": "a", "fingerprint": "a", "release": release})).await;
    }
    // Another issue during the cooldown is not held: the cooldown is per issue.
    error(&app, json!({"message": "b", "fingerprint": "b"})).await;
    let seen = hook.wait_for(2, WAIT).await;
    assert_eq!(seen.len(), 2, "the new issue a, the new issue b");
    assert!(hook.wait_for(3, Duration::from_millis(500)).await.len() == 2, "a's regressions are held");
    // The cooldown ends (moved back rather than waited for): one follow-up names what was held.
    sqlx::query("UPDATE alert_cooldowns SET until = now() - interval '1 second' WHERE issue_id = $1")
        .bind(issue)
        .execute(&app.state.db)
        .await
        .unwrap();
    sender::chores(&app.state).await.unwrap();
    let seen = hook.wait_for(3, WAIT).await;
    assert_eq!(seen.len(), 3);
    let follow = seen[2].json();
    assert_eq!(follow["trigger"], "followup");
    assert_eq!(follow["issue"]["id"], issue);
    let summary = follow["summary"].as_str().unwrap();
    assert!(summary.starts_with("+2 events, regression in 1.4.2, regression in 1.4.3"), "{summary}");
    sender::chores(&app.state).await.unwrap();
    assert_eq!(hook.wait_for(4, Duration::from_millis(500)).await.len(), 3, "one follow-up only");
}

#[sqlx::test]
async fn a_receiver_down_then_up_gets_the_message_once_and_a_429_is_waited_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let mut down = Receiver::down(Reply::new(200, "ok")).await;
    let limited = Receiver::start(Reply::new(200, "ok")).await;
    limited.then([Reply::new(429, "rate_limited").with("retry-after", "2")]);
    let d = channel(&app, &token, app.project, json!({"kind": "slack", "name": "down", "url": down.url})).await;
    let l = channel(&app, &token, app.project, json!({"kind": "slack", "name": "limited", "url": limited.url})).await;
    rule(&app, &token, app.project, json!({"name": "new", "when": ["new_issue"], "channels": [d["id"], l["id"]]}))
        .await;
    start_sender(&app);
    error(&app, json!({"message": "while down"})).await;

    let first = limited.wait_for(1, WAIT).await;
    let second = limited.wait_for(2, WAIT).await;
    assert_eq!(second.len(), 2, "retried after the 429");
    let waited = second[1].at.duration_since(first[0].at);
    assert!(waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6), "waited {waited:?}");

    // While the receiver is down, the channel is failing and the delivery pending.
    let id = d["id"].as_i64().unwrap();
    for _ in 0..50 {
        if deliveries(&app, &token, id).await[0]["attempts"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log[0]["status"], "pending");
    assert!(log[0]["last_error"].as_str().is_some());
    let listed = call(&app, Method::GET, &format!("/api/projects/{}/channels", app.project), &token, None).await;
    let ch = listed.body["channels"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(ch["status"], "failing");
    assert!(ch["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    // Up again; the next retry is due now (moved forward rather than waited for).
    down.up().await;
    sqlx::query("UPDATE alert_deliveries SET next_attempt_at = now() WHERE channel_id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    app.state.alerts.wake();
    assert_eq!(down.wait_for(1, WAIT).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(down.seen().len(), 1, "delivered once");
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log[0]["status"], "delivered");
    assert!(log[0]["tries"].as_array().unwrap().len() >= 2);
    let listed = call(&app, Method::GET, &format!("/api/projects/{}/channels", app.project), &token, None).await;
    assert_eq!(listed.body["channels"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["status"], "ok");
}

#[sqlx::test]
async fn a_410_breaks_the_channel_and_the_admins_hear_of_it_elsewhere(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let gone = Receiver::start(Reply::new(410, "channel_is_archived")).await;
    let other = Receiver::start(Reply::new(200, "ok")).await;
    let g =
        channel(&app, &token, app.project, json!({"kind": "slack", "name": "archived room", "url": gone.url})).await;
    channel(&app, &token, app.project, json!({"kind": "slack", "name": "ops", "url": other.url})).await;
    rule(&app, &token, app.project, json!({"name": "new", "when": ["new_issue"], "channels": [g["id"]]})).await;
    start_sender(&app);
    error(&app, json!({"message": "nobody hears"})).await;
    assert_eq!(gone.wait_for(1, WAIT).await.len(), 1);
    let notice = other.wait_for(1, WAIT).await;
    assert_eq!(notice.len(), 1, "the admins are told through another channel");
    let text = notice[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Alert channel broken"), "{text}");
    let block = notice[0].json()["blocks"][1]["text"]["text"].as_str().unwrap().to_owned();
    assert!(block.contains("archived room") && block.contains("410"), "{block}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gone.seen().len(), 1, "a permanent refusal is not retried");
    let log = deliveries(&app, &token, g["id"].as_i64().unwrap()).await;
    assert_eq!((log[0]["status"].as_str(), log[0]["last_status"].as_i64()), (Some("failed"), Some(410)));
    let listed = call(&app, Method::GET, &format!("/api/projects/{}/channels", app.project), &token, None).await;
    let ch = listed.body["channels"].as_array().unwrap().iter().find(|c| c["id"] == g["id"]).unwrap().clone();
    assert_eq!(ch["status"], "broken");

    // Redeliver sends the same message (same id) again; a fixed receiver heals the channel.
    let did = log[0]["id"].as_str().unwrap();
    let a = call(
        &app,
        Method::POST,
        &format!("/api/projects/{}/channels/{}/deliveries/{did}/redeliver", app.project, g["id"]),
        &token,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    gone.then([Reply::new(200, "ok")]);
    let seen = gone.wait_for(2, WAIT).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body, "the same payload");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = deliveries(&app, &token, g["id"].as_i64().unwrap()).await;
    assert_eq!(log[0]["status"], "delivered");
}

#[sqlx::test]
async fn send_test_reports_the_receivers_real_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    let good = Receiver::start(Reply::new(200, "ok")).await;
    let bad = Receiver::start(Reply::new(404, "channel_not_found")).await;
    let g = channel(&app, &token, app.project, json!({"kind": "slack", "name": "good", "url": good.url})).await;
    let b = channel(&app, &token, app.project, json!({"kind": "slack", "name": "bad", "url": bad.url})).await;
    let test = |c: &Value| format!("/api/projects/{}/channels/{}/test", app.project, c["id"]);
    let a = call(&app, Method::POST, &test(&g), &token, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (a.body["delivered"].as_bool(), a.body["status"].as_i64(), a.body["body"].as_str()),
        (Some(true), Some(200), Some("ok"))
    );
    assert!(good.seen()[0].json()["text"].as_str().unwrap().contains("Test message"));
    let a = call(&app, Method::POST, &test(&b), &token, None).await;
    assert_eq!(
        (a.body["delivered"].as_bool(), a.body["status"].as_i64(), a.body["body"].as_str()),
        (Some(false), Some(404), Some("channel_not_found"))
    );
    let log = deliveries(&app, &token, b["id"].as_i64().unwrap()).await;
    assert_eq!((log[0]["trigger"].as_str(), log[0]["status"].as_str()), (Some("test"), Some("failed")));
}

#[sqlx::test]
async fn channels_and_rules_are_checked_and_kept_to_their_project_and_its_admins(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.alerts_allow_private = false).await;
    let (_, token) = owner(&app).await;
    let p = app.project;
    let path = format!("/api/projects/{p}/channels");
    for (body, field) in [
        (json!({"kind": "pager", "name": "x", "url": "https://example.com/"}), "body"),
        (json!({"kind": "slack", "name": "x"}), "url"),
        (json!({"kind": "slack", "name": "x", "url": "http://127.0.0.1:9/hook"}), "url"),
        (json!({"kind": "slack", "name": "x", "url": "http://169.254.169.254/latest"}), "url"),
        (json!({"kind": "webhook", "name": "x", "url": "ftp://example.com/"}), "url"),
        (json!({"kind": "email", "name": "x", "to": ["not an address"]}), "to"),
        (json!({"kind": "ntfy", "name": "x", "url": "https://ntfy.sh/"}), "url"),
    ] {
        let a = call(&app, Method::POST, &path, &token, Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.body);
        assert!(a.body["error"]["message"].as_str().unwrap().starts_with(field), "{}", a.body);
    }
    let web = app.other_project("web", "web-key").await;
    let theirs =
        channel(&app, &token, web, json!({"kind": "webhook", "name": "theirs", "url": "https://example.com/hook"}))
            .await;
    assert!(theirs["secret"].as_str().unwrap().starts_with("whsec_"));
    let a = call(
        &app,
        Method::POST,
        &format!("/api/projects/{p}/rules"),
        &token,
        Some(json!({"name": "r", "when": ["new_issue"], "channels": [theirs["id"]]})),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "another project's channel: {}", a.body);
    let a = call(&app, Method::DELETE, &format!("/api/projects/{p}/channels/{}", theirs["id"]), &token, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "another project's channel is not found under this one");
    // The default rule and its members' email channel exist without any set-up.
    let rules = call(&app, Method::GET, &format!("/api/projects/{p}/rules"), &token, None).await;
    let default = &rules.body["rules"][0];
    assert_eq!(default["when"], json!(["new_issue", "regression", "unignored"]));
    assert_eq!(default["min_level"], "error");
    let channels = call(&app, Method::GET, &path, &token, None).await;
    assert_eq!(
        (channels.body["channels"][0]["kind"].as_str(), channels.body["channels"][0]["to"].clone()),
        (Some("email"), json!([]))
    );
    // A member (not an admin) of the project, even with an admin-scope token, cannot manage alerts.
    let (bob, _) = app.user_session("bob@example.com", InstanceRole::Member).await;
    db::projects::set_member(&app.state.db, p, bob, ProjectRole::Member).await.unwrap();
    let bobs = tokens::create(&app.state, bob, "b", TokenScope::Admin, None).await.unwrap().token;
    assert_eq!(call(&app, Method::GET, &path, &bobs, None).await.status, StatusCode::FORBIDDEN);
    let a = call(
        &app,
        Method::POST,
        &format!("/api/projects/{p}/rules"),
        &bobs,
        Some(json!({"name": "r", "when": ["new_issue"], "channels": [1]})),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The project's API key cannot either.
    assert_eq!(app.request(Method::GET, &path, Some(KEY), None).await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn a_rule_of_another_project_never_fires(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, token) = owner(&app).await;
    without_default_rule(&app).await;
    let hook = Receiver::start(Reply::new(200, "")).await;
    let web = app.other_project("web", "web-key").await;
    sqlx::query("DELETE FROM alert_rules WHERE project_id = $1").bind(web).execute(&app.state.db).await.unwrap();
    let c = channel(&app, &token, web, json!({"kind": "webhook", "name": "web hook", "url": hook.url})).await;
    rule(
        &app,
        &token,
        web,
        json!({"name": "web new", "when": ["new_issue", {"events": 1, "minutes": 5}], "channels": [c["id"]]}),
    )
    .await;
    start_sender(&app);
    error(&app, json!({"message": "in the default project"})).await;
    assert!(hook.wait_for(1, Duration::from_millis(800)).await.is_empty());
    app.post_error_as("web-key", json!({"message": "in web"})).await;
    app.process().await;
    assert_eq!(hook.wait_for(1, WAIT).await.len(), 1, "its own project's issue does");
}

#[sqlx::test]
async fn members_get_alert_emails_by_their_choice_with_a_working_unsubscribe_link(pool: PgPool) {
    let smtp = Smtp::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(pool, |s| {
        s.smtp_url = Some(faultline::server::config::Secret::new(url));
        s.email_from = Some("faultline <alerts@example.com>".into());
    })
    .await;
    let (_, _token) = owner(&app).await;
    let (carol, _) = app.user_session("carol@example.com", InstanceRole::Member).await;
    db::projects::set_member(&app.state.db, app.project, carol, ProjectRole::Viewer).await.unwrap();
    let (dave, _) = app.user_session("dave@example.com", InstanceRole::Member).await;
    db::projects::set_member(&app.state.db, app.project, dave, ProjectRole::Member).await.unwrap();
    db::alerts::set_email_mode(&app.state.db, dave, app.project, faultline::model::EmailMode::Hourly).await.unwrap();
    start_sender(&app);

    // The default rule: a new issue of level error emails every member who wants every alert.
    let issue = error(&app, json!({"message": "Checkout <b>failed</b> 💥", "level": "error"})).await;
    let mails = smtp.wait_for(2, WAIT).await;
    assert_eq!(mails.len(), 2, "the admin and carol; dave gets a digest");
    let to: Vec<String> = mails.iter().map(|m| m.header("To").unwrap()).collect();
    assert!(to.iter().any(|t| t.contains(ADMIN_EMAIL)) && to.iter().any(|t| t.contains("carol@example.com")));
    let mail = mails.iter().find(|m| m.header("To").unwrap().contains("carol")).unwrap();
    let subject = mail.header("Subject").unwrap();
    assert!(subject.starts_with("[default] New issue:"), "{subject}");
    assert!(mail.header("Message-ID").unwrap().ends_with("@faultline>"));
    let text = mail.part("text/plain").unwrap();
    let html = mail.part("text/html").unwrap();
    assert!(text.contains(&format!("http://127.0.0.1:3000/issues/{issue}")), "{text}");
    assert!(html.contains("&lt;b&gt;failed&lt;/b&gt;") && !html.contains("<b>failed</b>"), "{html}");
    let unsubscribe = mail.header("List-Unsubscribe").unwrap();
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    let link = unsubscribe.trim_matches(|c| c == '<' || c == '>').to_owned();
    assert!(text.contains(&link), "the body carries the same link");
    let path = link.strip_prefix("http://127.0.0.1:3000").unwrap();
    let page = app.page(path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::OK);
    assert_eq!(
        db::alerts::email_mode(&app.state.db, carol, app.project).await.unwrap(),
        faultline::model::EmailMode::None
    );
    assert_eq!(app.page("/unsubscribe/not-a-token", None).await.status, StatusCode::NOT_FOUND);

    // The next alert goes to the admin only; dave's digest, once its hour has passed, lists both.
    let second = error(&app, json!({"message": "Payment timeout", "level": "fatal"})).await;
    let mails = smtp.wait_for(3, WAIT).await;
    assert_eq!(mails.len(), 3);
    assert!(mails[2].header("To").unwrap().contains(ADMIN_EMAIL));
    sqlx::query("UPDATE alert_digest_items SET created_at = now() - interval '61 minutes'")
        .execute(&app.state.db)
        .await
        .unwrap();
    sender::chores(&app.state).await.unwrap();
    let mails = smtp.wait_for(4, WAIT).await;
    assert_eq!(mails.len(), 4);
    let digest = &mails[3];
    assert!(digest.header("To").unwrap().contains("dave@example.com"));
    assert_eq!(digest.header("Subject").as_deref(), Some("[default] Digest: 2 alerts"));
    let text = digest.part("text/plain").unwrap();
    assert!(text.contains(&format!("/issues/{issue}")) && text.contains(&format!("/issues/{second}")), "{text}");
    assert!(text.contains("Payment timeout"));
}

#[sqlx::test]
async fn a_server_killed_between_commit_and_delivery_delivers_after_restart_once(pool: PgPool) {
    use crate::process::{ServerProcess, http};
    let mut hook = Receiver::down(Reply::new(200, "")).await;
    let prefix = format!("fltest:{}", uuid::Uuid::new_v4().simple());
    let env = [("FAULTLINE_ALERTS_ALLOW_PRIVATE_TARGETS", "true"), ("FAULTLINE_REDIS_PREFIX", prefix.as_str())];
    let mut first = ServerProcess::start(&pool, &env).await;
    let project = ProjectId::new(first.project);
    sqlx::query("DELETE FROM alert_rules WHERE project_id = $1").bind(project).execute(&pool).await.unwrap();
    let fields = db::alerts::ChannelFields {
        kind: faultline::model::ChannelKind::Webhook,
        name: "hook",
        url: Some(&hook.url),
        to: &[],
        token: None,
        secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    };
    let c = db::alerts::insert_channel(&pool, project, &fields).await.unwrap();
    let input = serde_json::from_value(json!({"name": "new", "when": ["new_issue"], "channels": [c.id]})).unwrap();
    let r = faultline::server::alerts::rules::build(input, faultline::server::alerts::rules::blank(project)).unwrap();
    db::alerts::save_rule(&mut pool.acquire().await.unwrap(), &r, None).await.unwrap();

    let body = br#"{"message": "right before the crash", "level": "error"}"#;
    let (status, answer) =
        http(&first.addr, "POST", &format!("/api/{}/store/", first.project), &[first.auth()], body).await;
    assert_eq!(status, 200, "{answer}");
    // The delivery was committed with the issue and tried once while the receiver was down.
    let started = Instant::now();
    let id: uuid::Uuid = loop {
        let row: Option<(uuid::Uuid, i32)> =
            sqlx::query_as("SELECT id, attempts FROM alert_deliveries WHERE channel_id = $1")
                .bind(c.id)
                .fetch_optional(&pool)
                .await
                .unwrap();
        if let Some((id, attempts)) = row
            && attempts >= 1
        {
            break id;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no delivery was written and tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.child.kill().await.unwrap();
    hook.up().await;
    let _second = ServerProcess::start(&pool, &env).await;
    let seen = hook.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(seen.len(), 1, "delivered after the restart");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.seen().len(), 1, "once");
    assert_eq!(seen[0].header("webhook-id"), Some(format!("msg_{}", id.simple()).as_str()));
    let status: String = sqlx::query_scalar("SELECT status FROM alert_deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
}

#[sqlx::test]
async fn invitations_and_password_resets_are_emailed_once_smtp_is_configured(pool: PgPool) {
    let smtp = Smtp::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(pool, |s| {
        s.smtp_url = Some(faultline::server::config::Secret::new(url));
        s.email_from = Some("alerts@example.com".into());
    })
    .await;
    let (_, token) = owner(&app).await;
    let a =
        call(&app, Method::POST, "/api/users", &token, Some(json!({"email": "erin@example.com", "role": "member"})))
            .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["emailed"], true);
    let link = a.body["invite_url"].as_str().unwrap().to_owned();
    let mails = smtp.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].header("To").unwrap().contains("erin@example.com"));
    assert_eq!(mails[0].header("Subject").as_deref(), Some("You are invited to faultline"));
    assert!(mails[0].part("text/plain").unwrap().contains(&link), "the email carries the invitation link");
}
