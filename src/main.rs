//! The faultline server: settings → state → migrations → worker + HTTP, until a signal; or, as
//! `faultline doctor`, the checks of a deployment, printed.

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

    let doctor = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("doctor") => true,
        Some("help" | "--help" | "-h") => {
            println!("usage: faultline           serve (settings from the environment, see README)");
            println!("       faultline doctor    check this deployment and say what is wrong");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("faultline: unknown command {other:?} (try: faultline doctor)");
            return ExitCode::from(2);
        }
    };

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
    let mut leptos_options = conf.leptos_options;
    // A release build's files carry hashes when cargo-leptos left a hash.txt beside the binary.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        leptos_options.hash_files = faultline::server::assets::hashed(&leptos_options);
    } else if leptos_options.hash_files && !faultline::server::assets::hashed(&leptos_options) {
        eprintln!(
            "faultline: LEPTOS_HASH_FILES is true but there is no {} beside the binary",
            leptos_options.hash_file
        );
        return ExitCode::FAILURE;
    }
    let addr = leptos_options.site_addr;
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
    let state = match AppState::new(settings, leptos_options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("faultline: {e}");
            return ExitCode::FAILURE;
        }
    };
    if doctor {
        use faultline::server::doctor;
        let findings = doctor::examine(&state, doctor::Reach::Network).await;
        let (text, failed) = doctor::report(&findings);
        print!("{text}");
        return if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
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
