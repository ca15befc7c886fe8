//! `TestApp`: the real router in process over a fresh database and a unique Redis prefix, with
//! request helpers and an inline worker; `ChaosProxy`: a TCP proxy that can cut a service off;
//! `Live`: a `/live` stream read as a browser reads it.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use faultline::model::{ProjectId, UserId};
use faultline::server::config::Settings;
use faultline::server::state::AppState;
use faultline::server::{db, startup, worker};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tower::ServiceExt;

pub const KEY: &str = "test-api-key";

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub project: ProjectId,
    /// The first admin's set-up link the start printed (while no user existed).
    pub setup_url: Option<String>,
}

/// The email and password of the admin `TestApp::session` signs in as.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin password 1";

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The `code` of an error answer (panics if the body is not `{"error":{"code",…}}`).
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }
}

pub fn leptos_options() -> leptos::config::LeptosOptions {
    leptos::config::LeptosOptions::builder().output_name("faultline").build()
}

impl TestApp {
    /// A prepared app over `pool` (a fresh database from `#[sqlx::test]`).
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, |_| {}).await
    }

    pub async fn spawn_with(pool: PgPool, tweak: impl FnOnce(&mut Settings)) -> Self {
        let prefix = format!("fltest:{}", uuid::Uuid::new_v4().simple());
        let mut settings = Settings::for_tests("postgres://unused", &prefix);
        // A spool of its own, as every server has.
        settings.spool_dir =
            Some(std::env::temp_dir().join(format!("faultline-test-spool-{}", uuid::Uuid::new_v4().simple())));
        tweak(&mut settings);
        let state = AppState::with_pool(settings, leptos_options(), pool).expect("state");
        let prepared = startup::prepare(&state).await.expect("prepare");
        if let Some(spool) = &state.spool {
            tokio::spawn(spool.clone().replay(state.queue.clone(), state.shutdown.subscribe()));
        }
        let router = startup::build_router(state.clone());
        Self { state, router, project: ProjectId::new(prepared.project_id), setup_url: prepared.setup_url }
    }

    /// Creates the instance admin `ADMIN_EMAIL` (if missing) and signs in; answers the session's
    /// `Cookie` header value.
    pub async fn session(&self) -> String {
        let hash = self.state.passwords.hash(ADMIN_PASSWORD).await.expect("hash");
        db::users::ensure_admin(&self.state.db, ADMIN_EMAIL, &hash).await.expect("admin");
        let a = self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        session_cookie(&a).expect("a session cookie")
    }

    /// Creates an active user with `role` and signs them in; answers their id and the session's
    /// `Cookie` header value.
    pub async fn user_session(&self, email: &str, role: faultline::model::InstanceRole) -> (UserId, String) {
        let password = "a user password";
        let hash = self.state.passwords.hash(password).await.expect("hash");
        let id = db::users::create(&self.state.db, email, "", &hash, role).await.expect("db").expect("a new email");
        let a = self.sign_in(email, password, "/").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        (id, session_cookie(&a).expect("a session cookie"))
    }

    /// Calls the sign-in server function as the login form does.
    pub async fn sign_in(&self, email: &str, password: &str, next: &str) -> Answer {
        use faultline::api::account::SignIn;
        use faultline::model::encode_query_value as form;
        use leptos::server_fn::ServerFn;
        let body = format!("email={}&password={}&next={}", form(email), form(password), form(next));
        self.call_server_fn(SignIn::PATH, None, &body).await
    }

    /// Calls a server function with a form body (as the browser does), with `cookie` if given.
    pub async fn call_server_fn(&self, path: &str, cookie: Option<&str>, body: &str) -> Answer {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.state.settings.public_url.as_str())
            .header("sec-fetch-site", "same-origin");
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        self.send(req.body(Body::from(body.to_owned())).expect("request")).await
    }

    /// A page as the browser asks for it, with `cookie` if given.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut req = Request::builder().uri(path).header("accept", "text/html");
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    pub async fn request(&self, method: Method, path: &str, key: Option<&str>, body: Option<Body>) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path, Some(KEY), None).await
    }

    pub async fn put(&self, path: &str) -> Answer {
        self.request(Method::PUT, path, Some(KEY), None).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.request(Method::DELETE, path, Some(KEY), None).await
    }

    pub async fn post_raw(&self, key: Option<&str>, body: impl Into<Body>) -> Answer {
        self.request(Method::POST, "/api/errors", key, Some(body.into())).await
    }

    /// Posts an error with the default key; asserts the 202 and returns the id.
    pub async fn post_error(&self, body: Value) -> String {
        self.post_error_as(KEY, body).await
    }

    pub async fn post_error_as(&self, key: &str, body: Value) -> String {
        let a = self.post_raw(Some(key), body.to_string()).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }

    /// The entries on this app's stream, as ingest encoded them (oldest first).
    pub async fn stream_entries(&self) -> Vec<String> {
        let mut conn = self.state.redis.get().await.expect("redis");
        let entries: Vec<(String, Vec<(String, String)>)> = deadpool_redis::redis::cmd("XRANGE")
            .arg(format!("{}:events", self.state.settings.redis_prefix))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("XRANGE");
        entries.into_iter().filter_map(|(_, fields)| fields.into_iter().next().map(|(_, v)| v)).collect()
    }

    /// Runs the worker inline until the queue is empty.
    pub async fn process(&self) -> usize {
        worker::process_available(&self.state, "test-worker").await.expect("worker")
    }

    /// Sends any request through the router.
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer { status, headers, body }
    }

    /// Starts this app's live-update hub (as the server does); stop it by sending `true`.
    pub fn start_live_hub(&self) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let redis_url = self.state.settings.redis_url.expose().to_owned();
        let hub = tokio::spawn(self.state.live.clone().run(redis_url, self.state.updates_channel(), stopped));
        (stop, hub)
    }

    /// Serves the app on a real port (for SDKs and browsers); answers the base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    /// The default project's DSN for a server at `base`.
    pub async fn dsn(&self, base: &str) -> String {
        faultline::model::dsn(base, &self.public_key().await, self.project)
    }

    /// Runs the worker until at least `n` errors are stored (or 20 s pass); answers them all.
    pub async fn wait_for_errors(&self, n: usize) -> Vec<Value> {
        let mut errors = Vec::new();
        for _ in 0..200 {
            self.process().await;
            errors = self.get("/api/errors?limit=500").await.body["errors"].as_array().cloned().unwrap_or_default();
            if errors.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        errors
    }

    /// The default project's public DSN key.
    pub async fn public_key(&self) -> String {
        db::projects::find(&self.state.db, self.project).await.expect("db").expect("project").public_key
    }

    /// A REST error for the default project, as ingest would queue it.
    pub fn queued(&self, message: &str) -> faultline::server::queue::QueuedError {
        faultline::server::queue::QueuedError {
            format: faultline::server::queue::ENTRY_FORMAT,
            id: faultline::model::ErrorId::generate(),
            project_id: self.project,
            received_at: chrono::Utc::now(),
            timestamp: chrono::Utc::now(),
            level: faultline::model::Level::Error,
            message: message.into(),
            stack_trace: None,
            context: serde_json::json!({}),
            source: faultline::model::Source::Api,
            url: None,
            environment: None,
            release: None,
            fingerprint: None,
            platform: None,
        }
    }

    /// A second project with its own API key.
    pub async fn other_project(&self, name: &str, key: &str) -> ProjectId {
        let slug = faultline::model::slugify(name);
        let p = db::projects::insert(&mut self.state.db.acquire().await.expect("connection"), name, &slug)
            .await
            .expect("project")
            .expect("a free name");
        db::api_keys::ensure(&self.state.db, p.id, "test", key).await.expect("key");
        p.id
    }
}

impl Drop for TestApp {
    /// Stops the spool's replay, removes the spool's directory and this test's Redis keys.
    fn drop(&mut self) {
        self.state.shutdown.trigger();
        if let Some(dir) = &self.state.settings.spool_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        let pool = self.state.redis.clone();
        let pattern = format!("{}:*", self.state.settings.redis_prefix);
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                use deadpool_redis::redis;
                let Ok(mut conn) = pool.get().await else {
                    return;
                };
                let keys: Vec<String> =
                    redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await.unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// A REST call with a personal API token (`Authorization: Bearer`) and an optional JSON body.
pub async fn bearer_call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
    let mut req = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.send(req.body(body).expect("request")).await
}

/// The `name=value` of the session cookie an answer sets (`None` when it sets none or clears it).
pub fn session_cookie(a: &Answer) -> Option<String> {
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.contains("faultline_session=") && !pair.ends_with('='))
        .map(str::to_owned)
}

/// `host:port` of the Redis the tests use (`REDIS_URL`), for a proxy in front of it.
pub fn redis_addr() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .and_then(|u| u.strip_prefix("redis://").map(|s| s.trim_end_matches('/').to_owned()))
        .unwrap_or_else(|| "127.0.0.1:6379".into())
}

/// A TCP proxy on 127.0.0.1 in front of a service; `cut` drops every connection and refuses new
/// ones until `restore`.
pub struct ChaosProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl ChaosProxy {
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let target = target.to_owned();
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = gen2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, up, generation }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A `/live` stream read as a browser reads it.
pub struct Live {
    socket: tokio::net::TcpStream,
    /// Everything read so far.
    pub received: String,
}

impl Live {
    pub async fn open(base: &str, cookie: &str) -> Self {
        use tokio::io::AsyncWriteExt;
        let mut socket = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
        let request =
            format!("GET /live HTTP/1.1\r\nHost: faultline\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut live = Self { socket, received: String::new() };
        assert!(live.read_until("text/event-stream", Duration::from_secs(10)).await, "{}", live.received);
        live
    }

    /// Reads until `needle` arrives; false after `wait`.
    pub async fn read_until(&mut self, needle: &str, wait: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 4096];
        while !self.received.contains(needle) {
            match tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.received.push_str(&String::from_utf8_lossy(&buf[..n])),
                Ok(_) => return false,
                Err(_) => return false,
            }
        }
        true
    }
}
