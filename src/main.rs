//! The faultline server: settings → state → migrations → worker + HTTP, until a signal.

/// mimalloc returns memory to the system far better than glibc's allocator under the bursts of
/// large, short-lived buffers that ingest and the worker make.
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use faultline::server::{config::Settings, startup, state::AppState, telemetry};
    use std::process::ExitCode;

    // With `MIMALLOC_ALLOW_THP` set, mimalloc follows it instead.
    let huge_pages_refused =
        std::env::var_os("MIMALLOC_ALLOW_THP").is_none() && !faultline::server::process::keep_heap_out_of_huge_pages();
    telemetry::init();
    if huge_pages_refused {
        tracing::warn!("could not turn transparent huge pages off; resident memory may creep up under load");
    }
    let conf = match leptos::config::get_configuration(None) {
        Ok(conf) => conf,
        Err(e) => {
            eprintln!("faultline: leptos configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = conf.leptos_options.site_addr;
    let settings = match Settings::from_env(addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("faultline: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The key is shown only while it is the development default, which anyone can read anyway.
    let api_key_line = if settings.uses_dev_api_key() {
        format!(
            "{} (the development default: set FAULTLINE_API_KEY before exposing the server)",
            settings.bootstrap_api_key.expose()
        )
    } else {
        "from FAULTLINE_API_KEY (not shown)".to_owned()
    };
    let state = match AppState::new(settings, conf.leptos_options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("faultline: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prepared = match startup::prepare(&state).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("faultline: could not prepare PostgreSQL and Redis: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("faultline: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("faultline is running");
    println!("  dashboard and API: http://{addr}");
    println!("  API key (X-API-Key): {api_key_line}");
    println!("  DSN of project {} (\"default\"): {}", prepared.project_id, prepared.dsn);
    match &prepared.setup_url {
        Some(url) => println!("  no user yet: open {url} to create the first admin (the link works once)"),
        None => println!("  sign in at http://{addr}/login"),
    }
    match startup::serve(state, listener).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser build has no server entry point; see `lib.rs`'s `hydrate`.
}
