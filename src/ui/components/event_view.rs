//! One event in full: exception and stack trace (newest frame first, in-app frames highlighted,
//! library frames collapsed, source context and local variables on demand), breadcrumbs, user,
//! request, tags, contexts and the raw JSON. Every string is event data and is shown as text.

use super::LevelBadge;
use crate::model::ErrorEvent;
use leptos::either::Either;
use leptos::prelude::*;
use serde_json::Value;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `(key, value)` rows of a JSON object, values rendered as text.
fn rows(v: &Value) -> Vec<(String, String)> {
    v.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect()).unwrap_or_default()
}

#[component]
fn KeyValues(title: &'static str, rows: Vec<(String, String)>) -> impl IntoView {
    (!rows.is_empty()).then(|| {
        view! {
            <section class="kv">
                <h3>{title}</h3>
                <dl>
                    {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
            </section>
        }
    })
}

#[component]
pub fn EventView(event: ErrorEvent) -> impl IntoView {
    let ctx = event.context.clone();
    let exceptions: Vec<Value> = ctx["exception"]["values"].as_array().cloned().unwrap_or_default();
    let raw = serde_json::to_string_pretty(&event).unwrap_or_default();
    let breadcrumbs = ctx["breadcrumbs"].as_array().cloned().unwrap_or_default();
    let mut contexts: Vec<(String, Vec<(String, String)>)> =
        ctx["contexts"].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), rows(v))).collect()).unwrap_or_default();
    contexts.retain(|(_, r)| !r.is_empty());
    let request = ctx["request"].clone();
    let mut request_rows: Vec<(String, String)> = Vec::new();
    for key in ["method", "url", "query_string"] {
        if !request[key].is_null() {
            request_rows.push((key.to_owned(), text(&request[key])));
        }
    }
    for (k, v) in rows(&request["headers"]) {
        request_rows.push((format!("header {k}"), v));
    }
    let mut details: Vec<(String, String)> = vec![
        ("level".into(), event.level.to_string()),
        ("source".into(), event.source.to_string()),
        ("received".into(), event.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        ("event id".into(), event.event_id.clone()),
    ];
    for (k, v) in [
        ("environment", &event.environment),
        ("release", &event.release),
        ("platform", &event.platform),
        ("url", &event.url),
    ] {
        if let Some(v) = v {
            details.push((k.into(), v.clone()));
        }
    }
    view! {
        <article class="event" aria-label="Event">
            <header class="event-head">
                <LevelBadge level=event.level />
                <h2 class="event-message">{event.message.clone()}</h2>
                <time datetime=event.timestamp.to_rfc3339()>{event.timestamp.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</time>
            </header>
            {if exceptions.is_empty() {
                event.stack_trace.clone().map(|st| Either::Left(view! {
                    <section class="stack">
                        <h3>"Stack trace"</h3>
                        <pre class="stack-text">{st}</pre>
                    </section>
                }))
            } else {
                Some(Either::Right(view! {
                    <section class="stack">
                        <h3>"Stack trace" <small>" (most recent call first)"</small></h3>
                        {exceptions.into_iter().rev().map(|e| view! { <ExceptionView exception=e /> }).collect_view()}
                    </section>
                }))
            }}
            <Breadcrumbs crumbs=breadcrumbs />
            <KeyValues title="Details" rows=details />
            <KeyValues title="Tags" rows=rows(&ctx["tags"]) />
            <KeyValues title="User" rows=rows(&ctx["user"]) />
            <KeyValues title="Request" rows=request_rows />
            {contexts.into_iter().map(|(name, r)| view! {
                <section class="kv"><h3>{name}</h3><dl>{r.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}</dl></section>
            }).collect_view()}
            <KeyValues title="Extra" rows=rows(&ctx["extra"]) />
            <details class="raw">
                <summary>"Raw JSON"</summary>
                <pre>{raw}</pre>
            </details>
        </article>
    }
}

#[component]
fn ExceptionView(exception: Value) -> impl IntoView {
    let ty = text(&exception["type"]);
    let value = text(&exception["value"]);
    let handled = exception["mechanism"]["handled"].as_bool();
    let frames: Vec<Value> = exception["stacktrace"]["frames"].as_array().cloned().unwrap_or_default();
    let any_in_app = frames.iter().any(|f| f["in_app"] == Value::Bool(true));
    // Newest frame first; consecutive library frames fold into one collapsed group.
    let mut groups: Vec<(bool, Vec<Value>)> = Vec::new();
    for f in frames.into_iter().rev() {
        let in_app = !any_in_app || f["in_app"] == Value::Bool(true);
        match groups.last_mut() {
            Some((app, list)) if *app == in_app => list.push(f),
            _ => groups.push((in_app, vec![f])),
        }
    }
    view! {
        <div class="exception">
            <p class="exception-title">
                <strong class="exception-type">{ty}</strong>
                {(!value.is_empty()).then(|| view! { ": " <span class="exception-value">{value}</span> })}
                {(handled == Some(false)).then(|| view! { <span class="unhandled">"unhandled"</span> })}
            </p>
            <ol class="frames">
                {groups.into_iter().map(|(in_app, list)| {
                    if in_app {
                        Either::Left(list.into_iter().map(|f| view! { <FrameView frame=f in_app=any_in_app /> }).collect_view())
                    } else {
                        let n = list.len();
                        Either::Right(view! {
                            <li class="library-group">
                                <details>
                                    <summary>{format!("{n} library frame{}", if n == 1 { "" } else { "s" })}</summary>
                                    <ol class="frames">{list.into_iter().map(|f| view! { <FrameView frame=f in_app=false /> }).collect_view()}</ol>
                                </details>
                            </li>
                        })
                    }
                }).collect_view()}
            </ol>
        </div>
    }
}

#[component]
fn FrameView(frame: Value, in_app: bool) -> impl IntoView {
    let file = [&frame["filename"], &frame["abs_path"], &frame["module"]]
        .into_iter()
        .map(text)
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "<unknown>".into());
    let function = Some(text(&frame["function"])).filter(|s| !s.is_empty()).unwrap_or_else(|| "?".into());
    let lineno = frame["lineno"].as_u64();
    let location = match (lineno, frame["colno"].as_u64()) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file,
    };
    let lines = |v: &Value| -> Vec<String> { v.as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default() };
    let pre = lines(&frame["pre_context"]);
    let post = lines(&frame["post_context"]);
    let context_line = frame["context_line"].as_str().map(str::to_owned);
    let start = lineno.map(|l| l.saturating_sub(pre.len() as u64));
    let vars = rows(&frame["vars"]);
    let source = context_line.map(|line| {
        let mut all: Vec<(bool, String)> = pre.into_iter().map(|l| (false, l)).collect();
        all.push((true, line));
        all.extend(post.into_iter().map(|l| (false, l)));
        view! {
            <ol class="source" start=start.unwrap_or(1).to_string()>
                {all.into_iter().map(|(current, l)| view! { <li class:current=current><code>{l}</code></li> }).collect_view()}
            </ol>
        }
    });
    view! {
        <li class="frame" class:in-app=in_app>
            <div class="frame-head">
                <code class="function">{function}</code>
                " in "
                <code class="location">{location}</code>
            </div>
            {source}
            {(!vars.is_empty()).then(|| view! {
                <details class="vars">
                    <summary>"Local variables"</summary>
                    <dl>{vars.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v}</code></dd> }).collect_view()}</dl>
                </details>
            })}
        </li>
    }
}

#[component]
fn Breadcrumbs(crumbs: Vec<Value>) -> impl IntoView {
    (!crumbs.is_empty()).then(|| {
        view! {
            <section class="breadcrumbs">
                <h3>"Breadcrumbs"</h3>
                <ol class="timeline">
                    {crumbs.into_iter().map(|c| {
                        let when = match &c["timestamp"] {
                            Value::Number(n) => n.as_f64().and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64)).map(|t| t.format("%H:%M:%S%.3f").to_string()).unwrap_or_default(),
                            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s).map(|t| t.format("%H:%M:%S%.3f").to_string()).unwrap_or_else(|_| s.clone()),
                            other => text(other),
                        };
                        let category = [text(&c["category"]), text(&c["type"])].into_iter().find(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
                        let message = Some(text(&c["message"])).filter(|m| !m.is_empty()).unwrap_or_else(|| text(&c["data"]));
                        let level = Some(text(&c["level"])).filter(|l| !l.is_empty()).unwrap_or_else(|| "info".into());
                        view! {
                            <li class=format!("crumb crumb-{level}")>
                                <span class="crumb-time">{when}</span>
                                <span class="crumb-category">{category}</span>
                                <span class="crumb-message">{message}</span>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </section>
        }
    })
}
