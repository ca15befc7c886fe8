//! The HTML document (`shell`) and the routed dashboard (`App`).

use crate::ui::pages::account::AccountPage;
use crate::ui::pages::alerts::AlertsPage;
use crate::ui::pages::audit::AuditLogPage;
use crate::ui::pages::issue::IssuePage;
use crate::ui::pages::issues::IssuesPage;
use crate::ui::pages::login::{InvitePage, LoginPage, ResetPage, SetupPage};
use crate::ui::pages::projects::ProjectsPage;
use crate::ui::pages::settings::SettingsPage;
use crate::ui::pages::users::UsersPage;
use crate::ui::projects::{ProjectSwitcher, Projects};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let me = Resource::new(|| (), |_| crate::api::account::signed_in_user());
    let projects = Projects::provide();
    // In the browser, once signed in: report this page's own uncaught errors and panics to the
    // first project the user sees.
    Effect::new(move |installed: Option<bool>| {
        if installed == Some(true) {
            return true;
        }
        let signed_in = matches!(me.get(), Some(Ok(_)));
        if signed_in {
            leptos::task::spawn_local(async {
                if let Ok((project, key)) = crate::api::triggers::get_reporter_config().await {
                    #[cfg(feature = "hydrate")]
                    crate::ui::reporter::install(project, &key);
                    #[cfg(not(feature = "hydrate"))]
                    let _ = (project, key);
                }
            });
        }
        signed_in
    });
    view! {
        <Title text="faultline" />
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"faultline"</a>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        // Both read at once, so the boundary knows of both from the start.
                        use std::future::IntoFuture;
                        let (user, list) = futures_util::future::join(me.into_future(), projects.list.into_future()).await;
                        user.ok().map(|user| view! { <SignedInMenu user projects=list.unwrap_or_default() /> })
                    })}
                </Transition>
            </header>
            <StorageNotice />
            <main>
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=IssuesPage />
                    <Route path=(StaticSegment("issues"), ParamSegment("id")) view=IssuePage />
                    <Route path=StaticSegment("settings") view=SettingsPage />
                    <Route path=StaticSegment("alerts") view=AlertsPage />
                    <Route path=StaticSegment("projects") view=ProjectsPage />
                    <Route path=StaticSegment("account") view=AccountPage />
                    <Route path=StaticSegment("login") view=LoginPage />
                    <Route path=StaticSegment("users") view=UsersPage />
                    <Route path=StaticSegment("audit") view=AuditLogPage />
                    <Route path=(StaticSegment("setup"), ParamSegment("token")) view=SetupPage />
                    <Route path=(StaticSegment("invite"), ParamSegment("token")) view=InvitePage />
                    <Route path=(StaticSegment("reset"), ParamSegment("token")) view=ResetPage />
                </Routes>
            </main>
        </Router>
    }
}

/// The header's navigation and the signed-in user's name with **Sign out**.
#[component]
fn SignedInMenu(user: crate::model::CurrentUser, projects: Vec<crate::model::ProjectBrief>) -> impl IntoView {
    let sign_out = Action::new(|_: &()| crate::api::account::sign_out());
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            #[cfg(feature = "hydrate")]
            if let Some(window) = web_sys::window() {
                let _ = window.location().assign("/login");
            }
        }
    });
    let shown = if user.name.is_empty() { user.email.clone() } else { user.name.clone() };
    view! {
        <ProjectSwitcher projects />
        <nav aria-label="Main">
            <a href="/">"Issues"</a>
            <a href="/projects">"Projects"</a>
            <a href="/alerts">"Alerts"</a>
            {(user.role == crate::model::InstanceRole::Admin).then(|| view! { <a href="/users">"Users"</a> <a href="/audit">"Audit log"</a> })}
            <a href="/account">"Account"</a>
        </nav>
        <div class="account">
            <span class="user" title=user.email>{shown}</span>
            <button type="button" class="link" on:click=move |_| { sign_out.dispatch(()); }>"Sign out"</button>
        </div>
    }
}

/// A banner on every page while ingest refuses events for want of storage (read again on each
/// navigation).
#[component]
fn StorageNotice() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let notice = Resource::new(move || location.pathname.get(), |_| crate::api::projects::storage_notice());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                notice.await.ok().flatten().map(|why| view! {
                    <p class="banner" role="alert" id="storage-banner">
                        {format!("New events are being refused: {why}. ")}
                        <a href="/settings#storage">"See storage"</a>
                    </p>
                })
            })}
        </Transition>
    }
}
