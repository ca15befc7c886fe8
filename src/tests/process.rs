//! `ServerProcess`: the real `faultline` binary over a test's database and its own Redis prefix,
//! with a minimal HTTP/1.1 client and the process's resident memory, for tests that need the
//! whole process (signals, memory).

use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub addr: String,
    pub prefix: String,
    pub project: i64,
    pub dsn_key: String,
    /// The spool directory this process was started with, removed on drop when the test did not
    /// choose it.
    spool: Option<std::path::PathBuf>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(dir) = &self.spool {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The test database's URL: `DATABASE_URL` (which `#[sqlx::test]` creates databases from) with
/// this test's database name.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/faultline".into());
    let db = pool.connect_options().get_database().unwrap().to_owned();
    let root = base.split('?').next().unwrap().rsplit_once('/').unwrap().0.to_owned();
    format!("{root}/{db}")
}

impl ServerProcess {
    /// Starts the binary with `env` added (which may set its own `FAULTLINE_REDIS_PREFIX` and
    /// `FAULTLINE_SPOOL_DIR`) and waits until `/health` answers 200.
    pub async fn start(pool: &PgPool, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let given = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        let prefix =
            given("FAULTLINE_REDIS_PREFIX").unwrap_or_else(|| format!("fltest:{}", uuid::Uuid::new_v4().simple()));
        let owned_spool = given("FAULTLINE_SPOOL_DIR")
            .is_none()
            .then(|| std::env::temp_dir().join(format!("faultline-test-spool-{}", uuid::Uuid::new_v4().simple())));
        let spool = given("FAULTLINE_SPOOL_DIR").map_or_else(|| owned_spool.clone().unwrap_or_default(), Into::into);
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_faultline"));
        cmd.env("DATABASE_URL", database_url(pool))
            .env("FAULTLINE_REDIS_PREFIX", &prefix)
            .env("FAULTLINE_SPOOL_DIR", &spool)
            .env("LEPTOS_SITE_ADDR", &addr)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        while TcpStream::connect(&addr).await.is_err() || http(&addr, "GET", "/health", &[], b"").await.0 != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not become healthy");
            assert!(child.try_wait().unwrap().is_none(), "the server exited at start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (project, dsn_key): (i64, String) =
            sqlx::query_as("SELECT id, public_key FROM projects WHERE name = 'default'").fetch_one(pool).await.unwrap();
        Self { child, addr, prefix, project, dsn_key, spool: owned_spool }
    }

    /// The `X-Sentry-Auth` header with the default project's key.
    /// Signs in as the admin the server was started with (`FAULTLINE_ADMIN_*` in `env`);
    /// answers the session's `Cookie` header value.
    pub async fn session(&self, email: &str, password: &str) -> String {
        use faultline::api::account::SignIn;
        use leptos::server_fn::ServerFn;
        let body = format!(
            "email={}&password={}&next=%2F",
            faultline::model::encode_query_value(email),
            faultline::model::encode_query_value(password)
        );
        let headers = [("Content-Type", "application/x-www-form-urlencoded".to_owned())];
        let (status, answer) = http(&self.addr, "POST", SignIn::PATH, &headers, body.as_bytes()).await;
        assert_eq!(status, 200, "{answer}");
        answer
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned()
    }

    pub fn auth(&self) -> (&'static str, String) {
        ("X-Sentry-Auth", format!("Sentry sentry_key={}, sentry_version=7", self.dsn_key))
    }

    /// Resident memory of the process, in bytes.
    pub fn rss(&self) -> u64 {
        let Some(pid) = self.child.id() else {
            return 0;
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// A Redis connection, for looking at this server's keys.
    pub async fn redis(&self) -> deadpool_redis::redis::aio::MultiplexedConnection {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        deadpool_redis::redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    /// Removes this server's Redis keys.
    pub async fn clean_redis(&self) {
        let mut redis = self.redis().await;
        let keys: Vec<String> =
            deadpool_redis::redis::cmd("KEYS").arg(format!("{}:*", self.prefix)).query_async(&mut redis).await.unwrap();
        if !keys.is_empty() {
            let _: () = deadpool_redis::redis::cmd("DEL").arg(keys).query_async(&mut redis).await.unwrap();
        }
    }
}

/// Sends one HTTP/1.1 request (with `Connection: close`) and answers the status and the whole
/// answer (head and body).
pub async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let Ok(mut conn) = TcpStream::connect(addr).await else {
        return (0, "connection refused".into());
    };
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    if conn.write_all(req.as_bytes()).await.is_err() {
        return (0, "write failed".into());
    }
    // The server may answer (413, 403…) and close before taking the whole body.
    let _ = conn.write_all(body).await;
    read_answer(conn).await
}

/// Reads an answer to the end and parses its status.
pub async fn read_answer(mut conn: TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A `redis-server` of the test's own on a free port, keeping its data on disk (AOF, synced at
/// every write, as a production Redis that must not lose the queue would), which the test stops
/// and starts again.
pub struct RedisProcess {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<tokio::process::Child>,
}

impl RedisProcess {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("faultline-test-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { port, dir, child: None };
        redis.up().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers PING.
    pub async fn up(&mut self) {
        let port = self.port.to_string();
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--protected-mode", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (scripts/services.sh installs it)");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let client = deadpool_redis::redis::Client::open(self.url()).unwrap();
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && deadpool_redis::redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server as an operator would (SIGTERM) and waits until it has exited.
    pub async fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().unwrap() as i32;
            assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
            child.wait().await.unwrap();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
