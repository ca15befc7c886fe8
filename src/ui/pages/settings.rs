//! Project settings: the DSN with a copy button and set-up snippets per SDK, the API keys
//! (create — shown once —, revoke), and DSN key rotation.

use crate::api::projects::{create_api_key, get_project_settings, revoke_api_key, rotate_dsn_key};
use crate::model::{ApiKeyInfo, ProjectSettings};
use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let create = Action::new(|name: &String| create_api_key(name.clone()));
    let revoke = Action::new(|id: &i64| revoke_api_key(*id));
    let rotate = Action::new(|_: &()| rotate_dsn_key());
    let settings = Resource::new(
        move || (create.version().get(), revoke.version().get(), rotate.version().get()),
        |_| get_project_settings(),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="settings" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Project settings"</h1>
            <TestTriggers />
            <Transition fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! { <SettingsView settings=s create=create revoke=revoke rotate=rotate /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Settings unavailable: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

type CreateAction = Action<String, Result<crate::model::NewApiKey, crate::model::AppError>>;
type RevokeAction = Action<i64, Result<(), crate::model::AppError>>;
type RotateAction = Action<(), Result<(), crate::model::AppError>>;

/// The set-up snippet of each SDK for a DSN.
pub fn snippets(dsn: &str) -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "python",
            "Python",
            format!(
                "# pip install sentry-sdk\nimport sentry_sdk\n\nsentry_sdk.init(\n    dsn=\"{dsn}\",\n    environment=\"production\",\n    release=\"my-app@1.0.0\",\n)"
            ),
        ),
        (
            "browser",
            "JavaScript (browser)",
            format!(
                "// npm install @sentry/browser\nimport * as Sentry from \"@sentry/browser\";\n\nSentry.init({{\n  dsn: \"{dsn}\",\n  environment: \"production\",\n  release: \"my-app@1.0.0\",\n}});"
            ),
        ),
        (
            "node",
            "JavaScript (Node)",
            format!(
                "// npm install @sentry/node\nimport * as Sentry from \"@sentry/node\";\n\nSentry.init({{\n  dsn: \"{dsn}\",\n  environment: \"production\",\n  release: \"my-app@1.0.0\",\n}});"
            ),
        ),
        (
            "rust",
            "Rust",
            format!(
                "// cargo add sentry\nlet _guard = sentry::init((\n    \"{dsn}\",\n    sentry::ClientOptions {{\n        release: sentry::release_name!(),\n        environment: Some(\"production\".into()),\n        ..Default::default()\n    }},\n));"
            ),
        ),
    ]
}

#[component]
fn SettingsView(
    settings: ProjectSettings,
    create: CreateAction,
    revoke: RevokeAction,
    rotate: RotateAction,
) -> impl IntoView {
    let dsn = settings.dsn.clone();
    let new_name = RwSignal::new(String::new());
    let new_key = move || {
        create.value().get().map(|r| match r {
            Ok(k) => view! {
                <div class="new-key" role="status">
                    <p><strong>{format!("New key “{}” — copy it now, it will not be shown again:", k.info.name)}</strong></p>
                    <CopyField id="new-api-key" value=k.key label="New API key" />
                </div>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert">{format!("Could not create the key: {e}")}</p> }.into_any(),
        })
    };
    view! {
        <section class="panel">
            <h2>"DSN"</h2>
            <p>"Configure your Sentry SDK with this DSN; nothing else changes."</p>
            <CopyField id="dsn" value=dsn.clone() label="DSN" />
            <div class="snippets">
                {snippets(&dsn).into_iter().map(|(id, title, code)| view! {
                    <details class="snippet" id=format!("snippet-{id}")>
                        <summary>{title}</summary>
                        <pre><code>{code}</code></pre>
                    </details>
                }).collect_view()}
            </div>
            <p>
                <button
                    type="button"
                    class="danger"
                    disabled=move || rotate.pending().get()
                    on:click=move |_| {
                        if confirm("Give this project a new DSN? Apps still using the current one will be refused.") {
                            rotate.dispatch(());
                        }
                    }
                >
                    "Rotate DSN key"
                </button>
            </p>
        </section>
        <section class="panel">
            <h2>"API keys"</h2>
            <p>"Keys for the REST API (header " <code>"X-API-Key"</code> ")."</p>
            <form
                class="inline-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(new_name.get_untracked());
                    new_name.set(String::new());
                }
            >
                <label for="new-key-name">"Name"</label>
                <input id="new-key-name" placeholder="e.g. CI deploys" prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev)) />
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create key"</button>
            </form>
            {new_key}
            <table class="keys">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Created"</th><th scope="col">"Status"</th><th></th></tr></thead>
                <tbody>
                    {settings.keys.into_iter().map(|k| view! { <KeyRow key=k revoke=revoke /> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn KeyRow(key: ApiKeyInfo, revoke: RevokeAction) -> impl IntoView {
    let id = key.id;
    let live = key.revoked_at.is_none();
    view! {
        <tr class="key-row" class:revoked=!live data-key-id=id.to_string()>
            <td>{key.name.clone()}</td>
            <td><code>{format!("{}…", key.prefix)}</code></td>
            <td>{key.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
            <td>{if live { "active".to_owned() } else { "revoked".to_owned() }}</td>
            <td>
                {live.then(|| view! {
                    <button
                        type="button"
                        class="danger"
                        aria-label=format!("Revoke key {}", key.name)
                        on:click=move |_| {
                            if confirm("Revoke this key? Requests using it will be refused.") {
                                revoke.dispatch(id);
                            }
                        }
                    >
                        "Revoke"
                    </button>
                })}
            </td>
        </tr>
    }
}

/// Buttons that raise real errors, to see the whole path work (they arrive in the issue list
/// within a second).
#[component]
fn TestTriggers() -> impl IntoView {
    let backend = Action::new(|_: &()| crate::api::triggers::trigger_backend_error());
    view! {
        <section class="panel" id="test-errors">
            <h2>"Test errors"</h2>
            <p>"Raise a real error and watch it arrive on the Issues page."</p>
            <div class="actions">
                <button type="button" id="trigger-frontend" on:click=move |_| throw_js_error()>"Trigger Frontend Error"</button>
                <button type="button" id="trigger-panic" on:click=move |_| wasm_panic()>"Trigger WASM panic"</button>
                <button type="button" id="trigger-backend" on:click=move |_| { backend.dispatch(()); }>"Trigger Backend Error"</button>
            </div>
            <p role="status" id="trigger-result">
                {move || backend.value().get().map(|r| match r {
                    Ok(()) => "The server did not fail.".to_owned(),
                    Err(e) => format!("Recorded: {e}"),
                })}
            </p>
        </section>
    }
}

/// Throws a JavaScript `TypeError` from an event handler: uncaught, as a real bug would be.
fn throw_js_error() {
    #[cfg(feature = "hydrate")]
    {
        let _ = js_sys::Function::new_no_args("setTimeout(function faultlineTestError() { null.checkout(); })")
            .call0(&wasm_bindgen::JsValue::NULL);
    }
}

/// Panics in the WASM code (the page stops working; it reloads itself shortly after).
fn wasm_panic() {
    #[cfg(feature = "hydrate")]
    {
        let _ = js_sys::Function::new_no_args("setTimeout(function () { location.reload(); }, 1500)")
            .call0(&wasm_bindgen::JsValue::NULL);
        let items: Vec<u32> = Vec::new();
        let index = items.len() + 3;
        panic!("WASM test panic: index {index} out of range for {} items", items.len());
    }
}

/// A read-only field with a Copy button.
#[component]
fn CopyField(id: &'static str, value: String, label: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    view! {
        <div class="copy-field">
            <label class="visually-hidden" for=id>{label}</label>
            <input id=id readonly value=value />
            <button
                type="button"
                on:click=move |_| {
                    copy_to_clipboard(&text);
                    copied.set(true);
                }
            >
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Asks the person (in the browser; always yes where there is no window).
pub fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(question).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_snippet_carries_the_dsn() {
        let dsn = "http://0123456789abcdef0123456789abcdef@errors.example.com/1";
        let snippets = super::snippets(dsn);
        assert_eq!(snippets.len(), 4);
        assert!(snippets.iter().all(|(_, _, code)| code.contains(dsn)));
    }
}
