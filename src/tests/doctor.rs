//! `faultline doctor` and `/health`'s warnings: each check says what is wrong in plain words —
//! development secrets, a database setting that loses commits, migrations out of step, an SMTP
//! relay that does not answer — and the real binary exits 1 on a problem.

use crate::helpers::{TestApp, leptos_options};
use crate::process::{ServerProcess, database_url};
use axum::http::{Method, StatusCode};
use faultline::server::doctor::{self, Finding, Reach, Severity};
use faultline::server::state::AppState;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

fn find<'a>(findings: &'a [Finding], check: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.check == check).collect()
}

fn severity(findings: &[Finding], check: &str) -> Option<Severity> {
    find(findings, check).iter().map(|f| f.severity).max()
}

#[sqlx::test]
async fn the_doctor_names_development_secrets_migrations_and_a_lossy_commit_setting(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let found = doctor::examine(&app.state, Reach::Local).await;
    assert!(find(&found, "postgres")[0].message.starts_with("PostgreSQL 1"), "{found:?}");
    assert_eq!(severity(&found, "postgres"), Some(Severity::Ok));
    assert!(find(&found, "redis")[0].message.starts_with("Redis "), "{found:?}");
    assert_eq!(find(&found, "redis_persistence").len(), 1);
    assert!(find(&found, "migrations")[0].message.starts_with("all "), "{found:?}");
    assert_eq!(severity(&found, "postgres_durability"), Some(Severity::Ok), "{found:?}");
    assert_eq!(severity(&found, "dev_api_key"), Some(Severity::Warning));
    assert_eq!(severity(&found, "public_url"), Some(Severity::Warning), "the tests' public URL is 127.0.0.1");

    // `/health` says the same warnings, and lists every check.
    let health = app.request(Method::GET, "/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    let warnings: Vec<&str> = health.body["warnings"].as_array().unwrap().iter().filter_map(|w| w.as_str()).collect();
    assert!(warnings.iter().any(|w| w.contains("FAULTLINE_API_KEY is the development default")), "{warnings:?}");
    let checks = health.body["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["check"] == "postgres" && c["severity"] == "ok"), "{checks:?}");

    // A database whose commits are not flushed; a migration missing; one from a newer binary.
    let db = pool.connect_options().get_database().unwrap().to_owned();
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{db}\" SET synchronous_commit = off")))
        .execute(&pool)
        .await
        .unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(newest).execute(&pool).await.unwrap();
    // A new pool: the database's setting applies to connections opened after it.
    let fresh = PgPoolOptions::new().connect_with(pool.connect_options().as_ref().clone()).await.unwrap();
    let mut settings = (*app.state.settings).clone();
    settings.bootstrap_api_key = faultline::server::config::Secret::new("a-key-of-our-own-0123456789");
    settings.public_url = "https://errors.example.com".into();
    let state = AppState::with_pool(settings, leptos_options(), fresh).unwrap();
    let found = doctor::examine(&state, Reach::Local).await;
    let durability = find(&found, "postgres_durability");
    assert_eq!(durability.len(), 1, "{found:?}");
    assert_eq!(durability[0].severity, Severity::Warning);
    assert!(durability[0].message.contains("synchronous_commit = off"), "{durability:?}");
    assert!(find(&found, "migrations")[0].message.starts_with("1 of "), "{found:?}");
    // The key from the environment is our own, but the development key still works.
    let dev = find(&found, "dev_api_key");
    assert_eq!(dev.len(), 1, "{found:?}");
    assert!(dev[0].message.contains("still works"), "{dev:?}");
    assert_eq!(severity(&found, "public_url"), None, "{found:?}");

    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, 'later', true, '\\x00', 1)")
        .bind(newest + 1_000_000)
        .execute(&pool)
        .await
        .unwrap();
    faultline::server::db::api_keys::revoke(&pool, faultline::server::config::DEV_API_KEY).await.unwrap();
    let found = doctor::examine(&state, Reach::Local).await;
    assert!(find(&found, "migrations")[0].message.contains("a newer faultline ran on it"), "{found:?}");
    assert!(find(&found, "dev_api_key").is_empty(), "{found:?}");
}

#[sqlx::test]
async fn faultline_doctor_checks_the_public_url_and_fails_on_an_smtp_relay_that_does_not_answer(pool: PgPool) {
    let server = ServerProcess::start(&pool, &[]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = database_url(&pool);
    let run = |smtp: bool| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_faultline"));
        cmd.arg("doctor")
            .env("DATABASE_URL", &url)
            .env("FAULTLINE_REDIS_PREFIX", &server.prefix)
            .env("FAULTLINE_PUBLIC_URL", format!("http://{}", server.addr))
            .env("FAULTLINE_SPOOL_DIR", std::env::temp_dir())
            .env("RUST_LOG", "error")
            .env_remove("FAULTLINE_SMTP_URL")
            .env_remove("FAULTLINE_API_KEY");
        if smtp {
            cmd.env("FAULTLINE_SMTP_URL", format!("smtp://127.0.0.1:{closed}?tls=none"))
                .env("FAULTLINE_EMAIL_FROM", "faultline <alerts@example.com>");
        }
        async move { cmd.output().await }
    };
    let out = run(false).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("  ok       PostgreSQL "), "{text}");
    assert!(text.contains(&format!("  ok       http://{} answers", server.addr)), "{text}");
    assert!(text.contains("  warning  FAULTLINE_API_KEY is the development default"), "{text}");
    assert!(text.contains("email is off"), "{text}");

    let out = run(true).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("  PROBLEM  the SMTP relay cannot be reached"), "{text}");
    assert!(text.contains("1 problem(s)"), "{text}");
}
