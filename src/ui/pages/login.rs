//! The pages without a session: sign-in (`/login?next=…`), the first admin's set-up
//! (`/setup/<token>`), accepting an invitation (`/invite/<token>`) and choosing a new password
//! (`/reset/<token>`). All are plain forms, so they work before the page is hydrated too.

use crate::api::account::{CompleteSetup, SignIn};
use crate::api::users::{AcceptInvite, ResetPassword};
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Loads `path` as a new page (so the whole dashboard starts again as the signed-in user).
fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// What to tell the user about a failed attempt.
fn explain(e: &AppError) -> String {
    match e {
        AppError::WrongCredentials => "Wrong email or password.".into(),
        AppError::TooManyAttempts { retry_after } => {
            let minutes = retry_after.div_ceil(60);
            format!("Too many failed attempts. Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
        }
        AppError::Invalid(why) => why.clone(),
        other => format!("Could not sign in: {other}"),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(next)) = action.value().get() {
            go_to(&next);
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let failure = move || match action.value().get() {
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{explain(&e)}</p> }),
        _ => None,
    };
    view! {
        <section class="auth" id="login" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Sign in to faultline"</h1>
            <ActionForm action=action attr:class="auth-form">
                <input type="hidden" name="next" value=next />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
            {failure}
        </section>
    }
}

/// The state of a page behind a one-time link (set-up, invitation, reset): whether it is
/// hydrated and why its last submission failed; after a success it loads the dashboard as the
/// user just signed in.
fn link_page<S>(action: ServerAction<S>) -> (RwSignal<bool>, impl Fn() -> Option<AnyView> + Copy + Send + Sync)
where
    S: leptos::server_fn::ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            go_to("/");
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let failure = move || match action.value().get() {
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{explain(&e)}</p> }.into_any()),
        _ => None,
    };
    (hydrated, failure)
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<CompleteSetup>::new();
    let (hydrated, failure) = link_page(action);
    view! {
        <section class="auth" id="setup" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Create the first admin"</h1>
            <p>"This link works once. The account you create here manages users and every project."</p>
            <ActionForm action=action attr:class="auth-form">
                <input type="hidden" name="token" value=token />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required />
                <label for="name">"Name"</label>
                <input id="name" name="name" autocomplete="name" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required />
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Create admin"</button>
            </ActionForm>
            {failure}
        </section>
    }
}

/// `/invite/<token>`: the invited user chooses their name and password, and is signed in.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<AcceptInvite>::new();
    let (hydrated, failure) = link_page(action);
    view! {
        <section class="auth" id="invite" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Join faultline"</h1>
            <p>"You were invited. Choose your name and a password (at least 10 characters); this link works once."</p>
            <ActionForm action=action attr:class="auth-form">
                <input type="hidden" name="token" value=token />
                <label for="name">"Name"</label>
                <input id="name" name="name" autocomplete="name" required maxlength="100" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required />
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Create account"</button>
            </ActionForm>
            {failure}
        </section>
    }
}

/// `/reset/<token>`: the user chooses a new password (their other sessions end), and is signed
/// in.
#[component]
pub fn ResetPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    let (hydrated, failure) = link_page(action);
    view! {
        <section class="auth" id="reset" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Choose a new password"</h1>
            <p>"At least 10 characters. Every other session of your account ends; this link works once."</p>
            <ActionForm action=action attr:class="auth-form">
                <input type="hidden" name="token" value=token />
                <label for="password">"New password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required />
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Set password"</button>
            </ActionForm>
            {failure}
        </section>
    }
}
