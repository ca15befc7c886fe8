//! The HTML document (`shell`) and the routed dashboard (`App`).

use crate::ui::pages::issue::IssuePage;
use crate::ui::pages::issues::IssuesPage;
use crate::ui::pages::settings::SettingsPage;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
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
    // In the browser: report this page's own uncaught errors and panics to the default project.
    Effect::new(move |_| {
        leptos::task::spawn_local(async {
            if let Ok((project, key)) = crate::api::triggers::get_reporter_config().await {
                #[cfg(feature = "hydrate")]
                crate::ui::reporter::install(project, &key);
                #[cfg(not(feature = "hydrate"))]
                let _ = (project, key);
            }
        });
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/faultline.css" />
        <Title text="faultline" />
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"faultline"</a>
                <nav aria-label="Main">
                    <a href="/">"Issues"</a>
                    <a href="/settings">"Settings"</a>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=IssuesPage />
                    <Route path=(StaticSegment("issues"), ParamSegment("id")) view=IssuePage />
                    <Route path=StaticSegment("settings") view=SettingsPage />
                </Routes>
            </main>
        </Router>
    }
}
