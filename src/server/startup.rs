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
use tokio::sync::watch;

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
                pages(uri, state, req).await
            }
        }
    };
    let app = Router::new()
        .merge(rest::router())
        .merge(ingest::router())
        .route("/live", axum::routing::get(super::live::stream))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(fallback)
        .method_not_allowed_fallback(rest::method_not_allowed)
        .with_state(state);
    Router::new().fallback_service(app).layer(axum::middleware::map_request(ingest::fold_slashes))
}

/// What `prepare` found, for the start-up banner.
pub struct Prepared {
    pub project_id: i64,
    pub dsn: String,
}

/// Applies migrations and makes sure the `default` project has the configured API key.
pub async fn prepare(state: &AppState) -> Result<Prepared, ServerError> {
    db::MIGRATOR.run(&state.db).await.map_err(|e| ServerError::Other(format!("migrations: {e}")))?;
    let project = db::projects::find_by_name(&state.db, "default")
        .await?
        .ok_or_else(|| ServerError::Other("the default project is missing".into()))?;
    db::api_keys::ensure(&state.db, project.id, "bootstrap (FAULTLINE_API_KEY)", &state.settings.bootstrap_api_key)
        .await?;
    state.queue.ensure_group().await?;
    Ok(Prepared {
        project_id: project.id.get(),
        dsn: rest::dsn(&state.settings.public_url, &project.public_key, project.id.get()),
    })
}

/// Serves on `listener` until Ctrl-C or SIGTERM; then stops accepting, lets in-flight requests
/// and the worker's current batch finish, and returns.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let workers: Vec<_> = if state.settings.run_worker {
        (0..state.settings.workers)
            .map(|_| tokio::spawn(super::worker::run_until_stopped(state.clone(), stop_rx.clone())))
            .collect()
    } else {
        Vec::new()
    };
    tokio::spawn(state.live.clone().run(state.settings.redis_url.clone(), state.updates_channel(), stop_rx.clone()));
    let app = build_router(state);
    let mut stop_rx_http = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop_rx_http.wait_for(|stop| *stop).await;
    });
    let signal_task = tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new requests; finishing the current batch");
        let _ = stop_tx.send(true);
    });
    let result = server.await;
    for worker in workers {
        let _ = worker.await;
    }
    signal_task.abort();
    result
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
