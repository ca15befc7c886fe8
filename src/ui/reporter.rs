//! The dashboard's own error reporter: uncaught JavaScript errors, unhandled rejections and Rust
//! panics in the WASM code are sent to this project's envelope endpoint with its DSN key, the way
//! a Sentry SDK would send them (so faultline reports its own frontend errors to itself).

use serde_json::{Value, json};

/// Turns a JavaScript `Error.stack` into Sentry frames (oldest first).
pub fn frames_from_stack(stack: &str) -> Vec<Value> {
    let mut frames: Vec<Value> = stack
        .lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("at ")?;
            // `fn (url:line:col)`, `url:line:col`, or for eval'd code
            // `fn (eval at outer (url:l:c), <anonymous>:line:col)`.
            let (function, location) = match line.split_once(" (") {
                Some((f, loc)) => {
                    let loc = loc.strip_suffix(')').unwrap_or(loc);
                    (f.to_owned(), loc.rsplit_once(", ").map_or(loc, |(_, last)| last).to_owned())
                }
                None => ("?".to_owned(), line.to_owned()),
            };
            let mut parts = location.rsplitn(3, ':');
            let col = parts.next().and_then(|c| c.parse::<u64>().ok());
            let lineno = parts.next().and_then(|l| l.parse::<u64>().ok());
            let file = parts.next().unwrap_or(&location).to_owned();
            let (file, lineno, col) = match (lineno, col) {
                (Some(l), Some(c)) => (file, Some(l), Some(c)),
                _ => (location.clone(), None, None),
            };
            Some(json!({"function": function, "filename": file, "lineno": lineno, "colno": col, "in_app": true}))
        })
        .collect();
    frames.reverse();
    frames
}

/// A Sentry envelope with one error event.
pub fn envelope(event_id: &str, ty: &str, value: &str, frames: Vec<Value>, mechanism: &str, page_url: &str) -> String {
    let event = json!({
        "event_id": event_id,
        "timestamp": chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        "platform": "javascript",
        "level": "error",
        "sdk": {"name": "faultline.dashboard", "version": env!("CARGO_PKG_VERSION")},
        "request": {"url": page_url},
        "tags": {"reporter": "dashboard"},
        "exception": {"values": [{
            "type": ty,
            "value": value,
            "mechanism": {"type": mechanism, "handled": false},
            "stacktrace": {"frames": frames},
        }]},
    });
    format!("{}\n{{\"type\":\"event\"}}\n{}", json!({"event_id": event_id}), event)
}

/// Installs the reporter for a project (its id and public key).
#[cfg(feature = "hydrate")]
pub fn install(project: i64, key: &str) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let endpoint =
        format!("/api/{project}/envelope/?sentry_key={key}&sentry_version=7&sentry_client=faultline.dashboard");
    let send = {
        let endpoint = endpoint.clone();
        move |ty: &str, value: &str, frames: Vec<Value>, mechanism: &str| {
            let window = leptos::prelude::window();
            let url = window.location().href().unwrap_or_default();
            let id = uuid::Uuid::new_v4().simple().to_string();
            let body = envelope(&id, ty, value, frames, mechanism, &url);
            // sendBeacon survives the page being torn down, as after a panic.
            let _ = window.navigator().send_beacon_with_opt_str(&endpoint, Some(&body));
        }
    };
    let on_error = {
        let send = send.clone();
        Closure::<dyn Fn(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
            let error = e.error();
            let stack =
                js_sys::Reflect::get(&error, &"stack".into()).ok().and_then(|s| s.as_string()).unwrap_or_default();
            let name = js_sys::Reflect::get(&error, &"name".into())
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_else(|| "Error".into());
            let mut frames = frames_from_stack(&stack);
            if frames.is_empty() {
                frames.push(json!({"filename": e.filename(), "lineno": e.lineno(), "colno": e.colno(), "function": "?", "in_app": true}));
            }
            let message = e.message();
            let value = message.strip_prefix(&format!("Uncaught {name}: ")).unwrap_or(&message).to_owned();
            send(&name, &value, frames, "onerror");
        })
    };
    let _ = leptos::prelude::window().add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    on_error.forget();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let frames = info
            .location()
            .map(|l| vec![json!({"filename": l.file(), "lineno": l.line(), "colno": l.column(), "function": "panic", "in_app": true})])
            .unwrap_or_default();
        send("panic", &message, frames, "panic");
    }));
    // Tests (and curious people) can tell that the page now reports its own errors.
    let _ = js_sys::Reflect::set(&leptos::prelude::window(), &"faultlineReporterReady".into(), &true.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_stacks_become_oldest_first_frames() {
        let stack =
            "Error: boom\n    at explode (http://x/pkg/app.js:10:5)\n    at HTMLButtonElement.onclick (http://x/:1:2)";
        let frames = frames_from_stack(stack);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1]["function"], "explode");
        assert_eq!(frames[1]["filename"], "http://x/pkg/app.js");
        assert_eq!(frames[1]["lineno"], 10);
        assert_eq!(frames[0]["function"], "HTMLButtonElement.onclick");
        let eval = frames_from_stack(
            "TypeError: x\n    at faultlineTestError (eval at f (http://x/pkg/a.js:1:2), <anonymous>:1:42)",
        );
        assert_eq!(eval[0]["function"], "faultlineTestError");
        assert_eq!(eval[0]["filename"], "<anonymous>");
        assert_eq!(eval[0]["lineno"], 1);
    }

    #[test]
    fn envelopes_have_the_event_as_one_item() {
        let env = envelope("0123456789abcdef0123456789abcdef", "TypeError", "x", vec![], "onerror", "http://x/");
        let lines: Vec<&str> = env.lines().collect();
        assert_eq!(lines.len(), 3);
        let event: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(event["exception"]["values"][0]["type"], "TypeError");
        assert_eq!(event["platform"], "javascript");
    }
}
