//! faultline: a self-hosted, Sentry-compatible error tracker (one crate, SSR + hydration).

// The pages' views are concrete nested types (no type erasure, which would keep every view's
// async hydration code in the WASM); the compiler needs more depth than its default 128 for them.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
