//! A project's settings (`/settings?project=<slug>`; without it the first project the user
//! sees): the DSN with a copy button and set-up snippets per SDK, its members and its storage
//! (`storage`). Its admins also get the API keys (create — shown once —, revoke), DSN key
//! rotation, rename, member management, retention and deletion (after typing the project's
//! name).

use crate::api::projects::{
    create_api_key, delete_project, get_project_settings, remove_member, rename_project, revoke_api_key,
    rotate_dsn_key, set_member,
};
use crate::model::{ApiKeyInfo, AppError, Member, ProjectId, ProjectRole, ProjectSettings, UserId};
use crate::ui::projects::{project_param, use_projects};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let location = use_location();
    let slug = Memo::new(move |_| project_param(&location.search.get()));
    let projects = use_projects();
    let actions = SettingsActions {
        create: Action::new(|(p, name): &(ProjectId, String)| create_api_key(*p, name.clone())),
        revoke: Action::new(|(p, id): &(ProjectId, i64)| revoke_api_key(*p, *id)),
        rotate: Action::new(|p: &ProjectId| rotate_dsn_key(*p)),
        rename: Action::new(|(p, name): &(ProjectId, String)| rename_project(*p, name.clone())),
        set_member: Action::new(|(p, email, role): &(ProjectId, String, ProjectRole)| {
            set_member(*p, email.clone(), *role)
        }),
        remove_member: Action::new(|(p, user): &(ProjectId, UserId)| remove_member(*p, *user)),
        delete: Action::new(|(p, confirm): &(ProjectId, String)| delete_project(*p, confirm.clone())),
    };
    let a = actions;
    let settings = Resource::new(
        move || {
            (
                slug.get(),
                a.create.version().get(),
                a.revoke.version().get(),
                a.rotate.version().get(),
                a.rename.version().get(),
                a.set_member.version().get(),
                a.remove_member.version().get(),
            )
        },
        |(slug, ..)| get_project_settings(slug),
    );
    Effect::new(move |_| {
        if matches!(a.rename.value().get(), Some(Ok(()))) {
            projects.reload();
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(a.delete.value().get(), Some(Ok(()))) {
            projects.reload();
            navigate("/projects", Default::default());
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="settings" data-hydrated=move || hydrated.get().to_string()>
            <Transition fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => EitherOf3::A(view! { <SettingsView settings=s actions=actions /> }),
                        Err(AppError::NotFound) => EitherOf3::B(view! { <h1>"Project settings"</h1><p class="empty" role="alert">"This project does not exist, or you are not one of its members."</p> }),
                        Err(e) => EitherOf3::C(view! { <h1>"Project settings"</h1><p class="error" role="alert">{format!("Settings unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
            <TestTriggers />
        </section>
    }
}

/// What the settings page can change, each a server call.
#[derive(Clone, Copy)]
struct SettingsActions {
    create: Action<(ProjectId, String), Result<crate::model::NewApiKey, AppError>>,
    revoke: Action<(ProjectId, i64), Result<(), AppError>>,
    rotate: Action<ProjectId, Result<(), AppError>>,
    rename: Action<(ProjectId, String), Result<(), AppError>>,
    set_member: Action<(ProjectId, String, ProjectRole), Result<(), AppError>>,
    remove_member: Action<(ProjectId, UserId), Result<(), AppError>>,
    delete: Action<(ProjectId, String), Result<(), AppError>>,
}

/// A failed call's message.
pub(crate) fn failure<T: Clone + Send + Sync + 'static, I: Send + Sync + 'static>(
    action: Action<I, Result<T, AppError>>,
    what: &'static str,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{format!("{what}: {e}")}</p> }.into_any())
    }
}

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
fn SettingsView(settings: ProjectSettings, actions: SettingsActions) -> impl IntoView {
    let SettingsActions { create, revoke, rotate, .. } = actions;
    let project = settings.id;
    let admin = settings.role == ProjectRole::Admin;
    let dsn = settings.dsn.clone();
    let new_name = RwSignal::new(String::new());
    let new_key = move || {
        create.value().get().map(|r| match r {
            Ok(k) => Either::Left(view! {
                <div class="new-key" role="status">
                    <p><strong>{format!("New key “{}” — copy it now, it will not be shown again:", k.info.name)}</strong></p>
                    <CopyField id="new-api-key" value=k.key label="New API key" />
                </div>
            }
            ),
            Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Could not create the key: {e}")}</p> }),
        })
    };
    let keys = settings.keys;
    view! {
        <h1>{format!("{} — settings", settings.name)}</h1>
        <p class="muted">
            "Slug " <code id="project-slug">{settings.slug.clone()}</code>
            {format!(" · your role: {}", settings.role.as_str())}
        </p>
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
            {admin.then(|| view! {
                <p>
                    <button
                        type="button"
                        class="danger"
                        disabled=move || rotate.pending().get()
                        on:click=move |_| {
                            if confirm("Give this project a new DSN? Apps still using the current one will be refused.") {
                                rotate.dispatch(project);
                            }
                        }
                    >
                        "Rotate DSN key"
                    </button>
                </p>
            })}
        </section>
        {admin.then(|| view! {
            <section class="panel">
                <h2>"API keys"</h2>
                <p>"Keys for the REST API (header " <code>"X-API-Key"</code> ")."</p>
                <form
                    class="inline-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        create.dispatch((project, new_name.get_untracked()));
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
                        {keys.into_iter().map(|k| view! { <KeyRow key=k project revoke=revoke /> }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
        <MembersPanel project members=settings.members admin actions />
        <super::storage::StoragePanel project admin />
        {admin.then(|| view! { <ProjectAdmin project name=settings.name.clone() actions /> })}
    }
    // A view of its own type: keeps the page's type shallow enough for the compiler.
    .into_any()
}

/// The project's members with their roles; admins add people by email, change roles, remove.
#[component]
fn MembersPanel(project: ProjectId, members: Vec<Member>, admin: bool, actions: SettingsActions) -> impl IntoView {
    let SettingsActions { set_member, remove_member, .. } = actions;
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(ProjectRole::Member);
    let role_options = move |current: ProjectRole| {
        ProjectRole::ALL
            .iter()
            .map(|r| view! { <option value=r.as_str() selected=*r == current>{r.as_str()}</option> })
            .collect_view()
    };
    view! {
        <section class="panel" id="members">
            <h2>"Members"</h2>
            <p class="muted">"Admins manage the project; members also triage; viewers read. Instance admins are admins of every project."</p>
            {admin.then(|| view! {
                <form
                    class="inline-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        set_member.dispatch((project, email.get_untracked(), role.get_untracked()));
                        email.set(String::new());
                    }
                >
                    <label for="member-email">"Email"</label>
                    <input id="member-email" type="email" required prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                    <label for="member-role">"Role"</label>
                    <select id="member-role" on:change=move |ev| role.set(event_target_value(&ev).parse().unwrap_or(ProjectRole::Member))>
                        {role_options(ProjectRole::Member)}
                    </select>
                    <button type="submit" class="primary" disabled=move || set_member.pending().get()>"Add member"</button>
                </form>
            })}
            {failure(set_member, "Could not change the member")}
            {failure(remove_member, "Could not remove the member")}
            <table class="members">
                <thead><tr><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Role"</th><th></th></tr></thead>
                <tbody>
                    {members.into_iter().map(|m| {
                        let (user, email) = (m.user, m.email.clone());
                        let label = format!("Role of {}", m.email);
                        view! {
                            <tr class="member-row" data-email=m.email.clone() class:inactive=!m.active>
                                <td>{m.email.clone()}{(!m.active).then_some(" (deactivated)")}</td>
                                <td>{m.name.clone()}</td>
                                <td>
                                    {if admin {
                                        Either::Left(view! {
                                            <select aria-label=label on:change=move |ev| {
                                                let r = event_target_value(&ev).parse().unwrap_or(ProjectRole::Viewer);
                                                set_member.dispatch((project, email.clone(), r));
                                            }>
                                                {role_options(m.role)}
                                            </select>
                                        })
                                    } else {
                                        Either::Right(view! { <span>{m.role.as_str()}</span> })
                                    }}
                                </td>
                                <td>
                                    {admin.then(|| view! {
                                        <button type="button" class="danger" aria-label=format!("Remove {}", m.email) on:click=move |_| {
                                            remove_member.dispatch((project, user));
                                        }>"Remove"</button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Rename, and delete after typing the project's name.
#[component]
fn ProjectAdmin(project: ProjectId, name: String, actions: SettingsActions) -> impl IntoView {
    let SettingsActions { rename, delete, .. } = actions;
    let new_name = RwSignal::new(name.clone());
    let typed = RwSignal::new(String::new());
    let expected = name.clone();
    view! {
        <section class="panel">
            <h2>"Name"</h2>
            <form
                class="inline-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    rename.dispatch((project, new_name.get_untracked()));
                }
            >
                <label for="project-name">"Project name"</label>
                <input id="project-name" maxlength="100" prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev)) />
                <button type="submit" disabled=move || rename.pending().get()>"Rename"</button>
            </form>
            <p class="muted">"The slug, and so every link to the project, stays as it is."</p>
            {failure(rename, "Could not rename the project")}
        </section>
        <section class="panel danger-zone">
            <h2>"Delete project"</h2>
            <p>"Deletes the project with all its issues, errors and keys. This cannot be undone."</p>
            <form
                class="inline-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    delete.dispatch((project, typed.get_untracked()));
                }
            >
                <label for="delete-confirm">{format!("Type “{name}” to confirm")}</label>
                <input id="delete-confirm" autocomplete="off" prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit" class="danger" disabled=move || typed.get() != expected || delete.pending().get()>"Delete project"</button>
            </form>
            {failure(delete, "Could not delete the project")}
        </section>
    }
}

#[component]
fn KeyRow(
    key: ApiKeyInfo,
    project: ProjectId,
    revoke: Action<(ProjectId, i64), Result<(), AppError>>,
) -> impl IntoView {
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
                                revoke.dispatch((project, id));
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
pub fn CopyField(id: &'static str, value: String, label: &'static str) -> impl IntoView {
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
