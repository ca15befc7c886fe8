//! Wiring: the router (REST + dashboard), start-up tasks (migrate, bootstrap key), and serving
//! with a graceful shutdown that lets the worker finish its batch.

use super::db;
use super::error::ServerError;
use super::state::AppState;
use super::{ingest, rest};
use crate::app::{App, shell};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::IntoFuture;

/// The whole HTTP surface: REST API, Sentry ingest, health, dashboard pages, server functions,
/// static files; paths have `//` folded before routing.
pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let pages = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    // Unknown paths: a JSON 404 under /api, else static files or the dashboard's 404 page.
    let fallback = move |uri: Uri, state: State<AppState>, req: Request| {
        let pages = pages.clone();
        async move {
            if uri.path().starts_with("/api/") {
                rest::not_found().await.into_response()
            } else {
                let options = state.leptos_options.clone();
                let mut res = pages(uri.clone(), state, req).await;
                super::assets::cache_control(&options, uri.path(), &mut res);
                res
            }
        }
    };
    // Pages, server functions and /live need a signed-in user; REST and ingest have their keys.
    let dashboard = Router::new()
        .route("/live", axum::routing::get(super::live::stream))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), super::accounts::guard::guard));
    let app = Router::new()
        .route(
            "/unsubscribe/{token}",
            axum::routing::get(super::alerts::unsubscribe::ask).post(super::alerts::unsubscribe::confirm),
        )
        .merge(rest::router())
        .merge(ingest::router())
        .merge(dashboard)
        .route("/metrics", axum::routing::get(super::metrics::scrape))
        .fallback(fallback)
        .method_not_allowed_fallback(rest::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), super::metrics::track))
        .with_state(state);
    Router::new()
        .fallback_service(app)
        .layer(axum::middleware::map_request(ingest::fold_slashes))
        .layer(axum::middleware::from_fn(super::telemetry::request_span))
}

/// What `prepare` found, for the start-up banner.
pub struct Prepared {
    pub project_id: i64,
    pub dsn: String,
    /// While no user exists: the one-time link where the first admin signs up.
    pub setup_url: Option<String>,
}

/// Applies migrations and makes sure the first project (`default` in a new installation, made
/// again if every project was deleted) has the configured API key.
pub async fn prepare(state: &AppState) -> Result<Prepared, ServerError> {
    db::MIGRATOR.run(&state.db).await.map_err(|e| ServerError::Other(format!("migrations: {e}")))?;
    let project = match db::projects::first(&state.db).await? {
        Some(project) => project,
        None => {
            let mut conn = state.db.acquire().await?;
            db::projects::insert(&mut conn, "default", "default").await?;
            db::projects::first(&state.db)
                .await?
                .ok_or_else(|| ServerError::Other("could not create the default project".into()))?
        }
    };
    db::api_keys::ensure(
        &state.db,
        project.id,
        "bootstrap (FAULTLINE_API_KEY)",
        state.settings.bootstrap_api_key.expose(),
    )
    .await?;
    ensure_admin(state).await?;
    ensure_admin_token(state).await?;
    let setup_url = setup_link(state).await?;
    state.queue.ensure_group().await?;
    Ok(Prepared {
        project_id: project.id.get(),
        dsn: crate::model::dsn(&state.settings.public_url, &project.public_key, project.id),
        setup_url,
    })
}

/// How long the first admin's set-up link works.
const SETUP_LINK_DAYS: i64 = 7;

/// While no user exists, a new single-use link `/setup/<token>` for the first admin.
async fn setup_link(state: &AppState) -> Result<Option<String>, ServerError> {
    if db::users::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let token = super::accounts::token::SecretToken::generate("fsu")
        .map_err(|e| ServerError::Other(format!("random token: {e}")))?;
    let expires = state.clock.wall() + chrono::Duration::days(SETUP_LINK_DAYS);
    db::links::insert(&state.db, &token.hash().0, db::links::Purpose::Setup, None, None, expires).await?;
    let base = state.settings.public_url.trim_end_matches('/');
    Ok(Some(format!("{base}/setup/{}", token.expose())))
}

/// Makes sure the admin of `FAULTLINE_ADMIN_EMAIL` exists with `FAULTLINE_ADMIN_PASSWORD` (both
/// or neither must be set; a bad value stops the start with the reason).
async fn ensure_admin(state: &AppState) -> Result<(), ServerError> {
    let settings = &state.settings;
    let (email, password) = match (&settings.admin_email, &settings.admin_password) {
        (None, None) => return Ok(()),
        (Some(email), Some(password)) => (email, password),
        _ => {
            return Err(ServerError::Other(
                "set both FAULTLINE_ADMIN_EMAIL and FAULTLINE_ADMIN_PASSWORD, or neither".into(),
            ));
        }
    };
    if !super::accounts::looks_like_email(email) {
        return Err(ServerError::Other(format!("FAULTLINE_ADMIN_EMAIL {email:?} is not an email address")));
    }
    let hash = state
        .passwords
        .hash(password.expose())
        .await
        .map_err(|e| ServerError::Other(format!("FAULTLINE_ADMIN_PASSWORD: {e}")))?;
    db::users::ensure_admin(&state.db, email, &hash).await?;
    Ok(())
}

/// The shortest `FAULTLINE_ADMIN_TOKEN`.
const ADMIN_TOKEN_MIN_CHARS: usize = 32;

/// Makes sure `FAULTLINE_ADMIN_TOKEN`, when set, is an `admin`-scope personal token of the
/// first admin (`FAULTLINE_ADMIN_EMAIL`'s user, else the oldest instance admin).
async fn ensure_admin_token(state: &AppState) -> Result<(), ServerError> {
    use crate::model::TokenScope;
    let Some(token) = &state.settings.admin_token else { return Ok(()) };
    if token.expose().chars().count() < ADMIN_TOKEN_MIN_CHARS {
        return Err(ServerError::Other(format!(
            "FAULTLINE_ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN_CHARS} characters"
        )));
    }
    let admin = match &state.settings.admin_email {
        Some(email) => db::users::find_by_email(&state.db, email).await?.map(|u| u.id),
        None => db::users::first_admin(&state.db).await?,
    };
    let Some(admin) = admin else {
        tracing::warn!("FAULTLINE_ADMIN_TOKEN is not usable until the first admin exists");
        return Ok(());
    };
    let hash = super::accounts::token::TokenHash::of(token.expose());
    db::tokens::ensure(&state.db, admin, "FAULTLINE_ADMIN_TOKEN", &hash.0, TokenScope::Admin).await?;
    Ok(())
}

/// Serves on `listener` until Ctrl-C or SIGTERM; see `serve_until`.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_until(state, listener, shutdown_signal()).await
}

/// Serves on `listener`, with the worker tasks (restarted if they panic) and the live-update
/// hub, until `signal` completes or the state's shutdown is triggered. Then it stops accepting,
/// ends the `/live` streams and lets in-flight requests finish; then the workers finish their
/// current batches (what is still queued waits for the next start). It returns after
/// `shutdown_timeout` at the latest, leaving anything unfinished pending on the queue.
pub async fn serve_until(
    state: AppState,
    listener: tokio::net::TcpListener,
    signal: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let timeout = state.settings.shutdown_timeout;
    // The workers stop after the HTTP side, so they store what the last requests queued.
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = if state.settings.run_worker {
        (0..state.settings.workers)
            .map(|_| {
                let (state, stopped) = (state.clone(), workers_stopped.clone());
                tokio::spawn(super::worker::supervise("worker", move || {
                    super::worker::run_until_stopped(state.clone(), stopped.clone())
                }))
            })
            .collect()
    } else {
        Vec::new()
    };
    if let Some(spool) = &state.spool {
        tokio::spawn(spool.clone().replay(state.queue.clone(), shutdown.subscribe()));
    }
    {
        let (state, stop) = (state.clone(), shutdown.subscribe());
        tokio::spawn(super::worker::supervise("alert sender", move || {
            super::alerts::sender::run(state.clone(), stop.clone())
        }));
    }
    {
        let (state, stop) = (state.clone(), shutdown.subscribe());
        tokio::spawn(super::worker::supervise("retention", move || super::retention::run(state.clone(), stop.clone())));
    }
    tokio::spawn(super::doctor::watch(state.clone(), shutdown.subscribe()));
    tokio::spawn(state.live.clone().run(
        state.settings.redis_url.expose().to_owned(),
        state.updates_channel(),
        shutdown.subscribe(),
    ));
    let app = build_router(state);
    let mut server = tokio::spawn(
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().wait())
            .into_future(),
    );
    let early = tokio::select! {
        _ = signal => None,
        _ = shutdown.clone().wait() => None,
        result = &mut server => Some(result),
    };
    tracing::info!("shutting down: no new requests; finishing requests in flight and the current batches");
    shutdown.trigger();
    let finish = async {
        let result = match early {
            Some(result) => result,
            None => server.await,
        };
        let _ = stop_workers.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        result
    };
    match tokio::time::timeout(timeout, finish).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(std::io::Error::other(join)),
        Err(_) => {
            tracing::warn!(
                seconds = timeout.as_secs(),
                "shutdown took too long; exiting with work unfinished (it stays on the queue)"
            );
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
