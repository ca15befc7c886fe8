//! Upgrading from the first release: a database built by the first release's migrations (kept
//! as they were in `fixtures/first-release-migrations`) and filled as that release's REST API
//! and worker stored errors, then started with this build (which migrates it under sqlx's lock):
//! every project, key, issue and error is still there and readable through today's API.

use crate::helpers::TestApp;
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

const OLD_KEY: &str = "a-key-from-the-first-release";
const SHOP_KEY: &str = "the-shop-projects-first-key";

/// What the first release stored for one error (its worker's columns, `payload` included).
struct OldError {
    message: &'static str,
    level: &'static str,
    days_ago: i64,
    issue: usize,
}

#[sqlx::test(migrations = false)]
async fn a_database_of_the_first_release_migrates_to_today_with_everything_readable(pool: PgPool) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tests/fixtures/first-release-migrations");
    let first = sqlx::migrate::Migrator::new(std::path::Path::new(dir)).await.unwrap();
    assert_eq!(first.iter().count(), 4);
    first.run(&pool).await.unwrap();

    // The first release's data: its default project and another, a key each, issues, errors.
    let default: i64 =
        sqlx::query_scalar("SELECT id FROM projects WHERE name = 'default'").fetch_one(&pool).await.unwrap();
    let shop: i64 =
        sqlx::query_scalar("INSERT INTO projects (name, public_key) VALUES ('shop', md5('shop')) RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    for (project, key) in [(default, OLD_KEY), (shop, SHOP_KEY)] {
        sqlx::query("INSERT INTO api_keys (project_id, name, key_hash, key_prefix) VALUES ($1, 'old', $2, $3)")
            .bind(project)
            .bind(faultline::server::sha256_hex(key))
            .bind(&key[..4])
            .execute(&pool)
            .await
            .unwrap();
    }
    let now = Utc::now();
    let mut issues = Vec::new();
    for (project, fp, title, status) in [
        (default, "fp-checkout", "TypeError: cart is undefined", "unresolved"),
        (default, "fp-db", "database timeout", "resolved"),
        (shop, "fp-shop", "payment declined", "unresolved"),
    ] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO issues (project_id, fingerprint, title, level, status, first_seen, last_seen, event_count)
             VALUES ($1, $2, $3, 'error', $4, $5, $5, 0) RETURNING id",
        )
        .bind(project)
        .bind(fp)
        .bind(title)
        .bind(status)
        .bind(now)
        .fetch_one(&pool)
        .await
        .unwrap();
        issues.push((id, project));
    }
    let old = [
        OldError { message: "TypeError: cart is undefined", level: "error", days_ago: 0, issue: 0 },
        OldError { message: "TypeError: cart is undefined", level: "error", days_ago: 3, issue: 0 },
        OldError { message: "TypeError: cart is undefined", level: "fatal", days_ago: 40, issue: 0 },
        OldError { message: "database timeout", level: "error", days_ago: 10, issue: 1 },
        OldError { message: "payment declined", level: "warning", days_ago: 1, issue: 2 },
    ];
    let mut ids = Vec::new();
    for e in &old {
        let (issue, project) = issues[e.issue];
        let at = now - Duration::days(e.days_ago) - Duration::minutes(5);
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO errors (id, project_id, issue_id, event_id, timestamp, received_at, level, message, stack_trace,
                                 context, source, url, fingerprint, environment, release, platform, payload)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, 'at checkout (app.js:10:5)', $8, 'frontend', 'https://shop.example/cart',
                     'fp', 'production', 'shop@1.0', 'javascript', $9)",
        )
        .bind(id)
        .bind(project)
        .bind(issue)
        .bind(uuid::Uuid::new_v4())
        .bind(at)
        .bind(e.level)
        .bind(e.message)
        .bind(json!({"tags": {"browser": "firefox"}, "user": {"id": "42"}}))
        .bind(json!({"extra": {"cart_items": 3}}))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE issues SET event_count = event_count + 1, first_seen = LEAST(first_seen, $2), last_seen = $3 WHERE id = $1",
        )
        .bind(issue)
        .bind(at)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        ids.push(id);
    }

    // Started with today's build: the migrations run at start-up.
    let app = TestApp::spawn(pool.clone()).await;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE NOT success").fetch_one(&pool).await.unwrap();
    assert_eq!(pending, 0);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    assert_eq!(applied, i64::try_from(faultline::server::db::MIGRATOR.iter().count()).unwrap());

    // The old keys still work, each for its own project.
    let list = app.request(Method::GET, "/api/errors?limit=50", Some(OLD_KEY), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.body["errors"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{}", list.body);
    assert_eq!(list.body["total"], 4);
    for (e, id) in old.iter().zip(&ids).filter(|(e, _)| e.issue < 2) {
        let one = app.request(Method::GET, &format!("/api/errors/{id}"), Some(OLD_KEY), None).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        let b = &one.body;
        assert_eq!((&b["message"], &b["level"]), (&json!(e.message), &json!(e.level)));
        assert_eq!(
            (&b["environment"], &b["release"], &b["url"]),
            (&json!("production"), &json!("shop@1.0"), &json!("https://shop.example/cart"))
        );
        assert_eq!(b["stack_trace"], "at checkout (app.js:10:5)");
        assert_eq!(b["context"]["tags"]["browser"], "firefox", "{b}");
    }
    let issues_now = app.request(Method::GET, "/api/issues?limit=50", Some(OLD_KEY), None).await;
    assert_eq!(issues_now.status, StatusCode::OK, "{}", issues_now.body);
    let counts: Vec<(Value, Value, Value)> = issues_now.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["title"].clone(), i["count"].clone(), i["status"].clone()))
        .collect();
    assert!(counts.contains(&(json!("TypeError: cart is undefined"), json!(3), json!("unresolved"))), "{counts:?}");
    assert!(counts.contains(&(json!("database timeout"), json!(1), json!("resolved"))), "{counts:?}");
    // Totals come from the rollups the migration built from the old rows.
    let stats = app.request(Method::GET, "/api/stats", Some(OLD_KEY), None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["total"], 4, "{}", stats.body);
    let shop_errors = app.request(Method::GET, "/api/errors", Some(SHOP_KEY), None).await;
    assert_eq!(shop_errors.body["errors"].as_array().unwrap().len(), 1, "{}", shop_errors.body);
    assert_eq!(shop_errors.body["errors"][0]["message"], "payment declined");

    // And the upgraded installation takes new errors.
    app.post_error_as(OLD_KEY, json!({"message": "after the upgrade"})).await;
    assert_eq!(app.process().await, 1);
    let list = app.request(Method::GET, "/api/errors?limit=50", Some(OLD_KEY), None).await;
    assert_eq!(list.body["total"], 5, "{}", list.body);
}
