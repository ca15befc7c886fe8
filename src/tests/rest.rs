//! The REST API's contract: the flow from POST to GET, validation, isolation, triage, caching.

use crate::helpers::{KEY, TestApp};
use axum::http::{Method, StatusCode};
use faultline::server::db::search::TextSearch;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test]
async fn posted_error_goes_through_the_stream_and_worker_and_reads_back_exactly(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let at = (chrono::Utc::now() - chrono::TimeDelta::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let sent = json!({
        "level": "warning",
        "message": "payment 4242 declined",
        "stack_trace": "Error: payment declined\n    at charge (pay.js:10:3)",
        "context": {"user": {"id": 7}, "tags": ["a", "b"]},
        "source": "frontend",
        "url": "https://shop.example/checkout",
        "timestamp": at,
        "environment": "production",
        "release": "1.2.3",
        "fingerprint": "payments-declined"
    });
    let id = app.post_error(sent.clone()).await;

    // The entry is on the Redis stream, not yet in PostgreSQL.
    assert_eq!(app.state.queue.depth().await.unwrap(), 1);
    let entries = app.stream_entries().await;
    assert!(entries.len() == 1 && entries[0].contains(&id), "stream entry carries the id");
    assert_eq!(app.get(&format!("/api/errors/{id}")).await.status, StatusCode::NOT_FOUND);

    assert_eq!(app.process().await, 1);
    assert_eq!(app.state.queue.depth().await.unwrap(), 0, "acknowledged entries leave the stream");

    let got = app.get(&format!("/api/errors/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    let e = &got.body;
    for field in
        ["level", "message", "stack_trace", "context", "source", "url", "environment", "release", "fingerprint"]
    {
        assert_eq!(e[field], sent[field], "field {field}");
    }
    assert_eq!(e["id"], json!(id));
    assert_eq!(e["timestamp"], json!(at));
    assert_eq!(e["resolved"], json!(false));
    assert_eq!(e["project_id"], json!(app.project.get()));
    assert_eq!(e["event_id"], json!(id.replace('-', "")));
    assert!(e["received_at"].as_str().is_some());

    // The list is computed once, then served from the cache.
    let first = app.get("/api/errors").await;
    assert_eq!(first.header("x-cache"), Some("miss"));
    assert_eq!(first.body["total"], json!(1));
    assert_eq!(first.body["errors"][0], got.body);
    let second = app.get("/api/errors").await;
    assert_eq!(second.header("x-cache"), Some("hit"));
    assert_eq!(second.body, first.body);
}

#[sqlx::test]
async fn defaults_apply_when_optional_fields_are_absent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.post_error(json!({"message": "plain"})).await;
    app.process().await;
    let e = app.get(&format!("/api/errors/{id}")).await.body;
    assert_eq!(e["level"], json!("error"));
    assert_eq!(e["source"], json!("api"));
    assert_eq!(e["context"], json!({}));
    assert_eq!(e["stack_trace"], Value::Null);
    assert_eq!(e["fingerprint"].as_str().map(str::len), Some(64));
}

#[sqlx::test]
async fn every_client_mistake_gets_its_status_and_a_json_error(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.post_raw(Some(KEY), "{\"message\": ").await;
    assert_eq!((a.status, a.error_code()), (StatusCode::BAD_REQUEST, "malformed_json"));
    let a = app.post_raw(None, json!({"message": "m"}).to_string()).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let a = app.post_raw(Some("wrong-key"), json!({"message": "m"}).to_string()).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let a = app.request(Method::GET, "/api/stats", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let big = json!({"message": "x".repeat(1024 * 1024)}).to_string();
    let a = app.post_raw(Some(KEY), big).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));

    for (body, field) in [
        (json!({}), "message"),
        (json!({"message": ""}), "message"),
        (json!({"message": "m", "level": "critical"}), "level"),
        (json!({"message": "m", "source": "mobile"}), "source"),
        (json!({"message": "m", "timestamp": "last tuesday"}), "timestamp"),
        (json!({"message": "m", "context": "text"}), "context"),
        (json!({"message": "m", "fingerprint": 12}), "fingerprint"),
        (json!({"message": "m", "environment": ["prod"]}), "environment"),
    ] {
        let a = app.post_raw(Some(KEY), body.to_string()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(a.error_code(), "invalid_field");
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message:?} names {field}");
    }
    for query in ["limit=0", "limit=501", "limit=abc", "offset=-1", "level=loud", "since=soon", "resolved=maybe"] {
        let a = app.get(&format!("/api/errors?{query}")).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let field = query.split('=').next().unwrap();
        assert!(a.body["error"]["message"].as_str().unwrap().starts_with(field), "{query}: {}", a.body);
    }
    let a = app.get("/api/errors?q=%00").await;
    assert_eq!((a.status, a.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"));
    let a = app.get("/api/issues?sort=popularity").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    for path in [
        "/api/errors/not-a-uuid",
        "/api/errors/00000000-0000-0000-0000-000000000000",
        "/api/issues/999",
        "/api/issues/x",
        "/api/nothing-here",
    ] {
        let a = app.get(path).await;
        assert_eq!((a.status, a.error_code()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let a = app.request(Method::POST, "/api/stats", Some(KEY), None).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    // Nothing was queued by any of these.
    assert_eq!(app.state.queue.depth().await.unwrap(), 0);
}

#[sqlx::test]
async fn a_key_never_sees_another_projects_data(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let other = app.other_project("other", "other-key").await;
    let mine = app.post_error(json!({"message": "mine"})).await;
    let theirs = app.post_error_as("other-key", json!({"message": "theirs"})).await;
    app.process().await;

    let list = app.get("/api/errors").await.body;
    assert_eq!(list["total"], json!(1));
    assert_eq!(list["errors"][0]["id"], json!(mine));
    let their_issue =
        app.request(Method::GET, "/api/errors", Some("other-key"), None).await.body["errors"][0]["issue_id"].clone();
    assert_eq!(
        app.request(Method::GET, &format!("/api/errors/{theirs}"), Some("other-key"), None).await.body["project_id"],
        json!(other.get())
    );

    for path in [
        format!("/api/errors/{theirs}"),
        format!("/api/issues/{their_issue}"),
        format!("/api/issues/{their_issue}/errors"),
    ] {
        assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(app.put(&format!("/api/errors/{theirs}/resolve")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.put(&format!("/api/issues/{their_issue}/ignore")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/errors/{theirs}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/issues").await.body["total"], json!(1));
    assert_eq!(app.get("/api/stats").await.body["total"], json!(1));
    let projects = app.get("/api/projects").await.body;
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    assert_eq!(projects["projects"][0]["name"], json!("default"));
    // Their error is untouched by all of the above.
    let still = app.request(Method::GET, &format!("/api/errors/{theirs}"), Some("other-key"), None).await;
    assert_eq!((still.status, still.body["resolved"].clone()), (StatusCode::OK, json!(false)));
}

#[sqlx::test]
async fn errors_differing_only_in_numbers_share_an_issue_and_others_do_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.post_error(json!({"message": "order 1234 failed"})).await;
    let b = app.post_error(json!({"message": "order 98 failed"})).await;
    let c = app.post_error(json!({"message": "inventory missing"})).await;
    let d = app.post_error(json!({"message": "totally different", "fingerprint": "inventory"})).await;
    let e = app.post_error(json!({"message": "unrelated", "fingerprint": "inventory"})).await;
    app.process().await;
    let issue = |id: String| {
        let app = &app;
        async move { app.get(&format!("/api/errors/{id}")).await.body["issue_id"].clone() }
    };
    let (ia, ib, ic, id_, ie) = (issue(a).await, issue(b).await, issue(c).await, issue(d).await, issue(e).await);
    assert_eq!(ia, ib);
    assert_ne!(ia, ic);
    assert_eq!(id_, ie);
    assert_ne!(id_, ic);
    let issue = app.get(&format!("/api/issues/{ia}")).await.body;
    assert_eq!(issue["count"], json!(2));
    assert_eq!(issue["title"], json!("order 1234 failed"));
    assert_eq!(issue["status"], json!("unresolved"));
    let issues = app.get("/api/issues?sort=count").await.body;
    assert_eq!(issues["total"], json!(3));
    assert_eq!(issues["issues"][0]["count"], json!(2));
}

#[sqlx::test]
async fn resolving_an_error_resolves_its_issue_and_a_new_error_reopens_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.post_error(json!({"message": "db timeout after 30s"})).await;
    let second = app.post_error(json!({"message": "db timeout after 31s"})).await;
    let other = app.post_error(json!({"message": "something else"})).await;
    app.process().await;

    let r = app.put(&format!("/api/errors/{first}/resolve")).await;
    assert_eq!((r.status, r.body["resolved"].clone()), (StatusCode::OK, json!(true)));
    assert_eq!(app.get(&format!("/api/errors/{second}")).await.body["resolved"], json!(true));
    assert_eq!(app.get(&format!("/api/errors/{other}")).await.body["resolved"], json!(false));
    assert_eq!(app.get("/api/errors?resolved=true").await.body["total"], json!(2));
    assert_eq!(app.get("/api/errors?resolved=false").await.body["total"], json!(1));
    let stats = app.get("/api/stats").await.body;
    assert_eq!((stats["resolved"].clone(), stats["unresolved"].clone()), (json!(2), json!(1)));
    assert_eq!(stats["issues"]["resolved"], json!(1));

    // Regression: the same failure again reopens the issue.
    app.post_error(json!({"message": "db timeout after 45s"})).await;
    app.process().await;
    let e = app.get(&format!("/api/errors/{first}")).await.body;
    assert_eq!(e["resolved"], json!(false));
    let issue = app.get(&format!("/api/issues/{}", e["issue_id"])).await.body;
    assert_eq!((issue["status"].clone(), issue["count"].clone()), (json!("unresolved"), json!(3)));
}

#[sqlx::test]
async fn issue_status_changes_and_issue_errors_list(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.post_error(json!({"message": "flaky"})).await;
    app.post_error(json!({"message": "flaky"})).await;
    app.process().await;
    let issue_id = app.get(&format!("/api/errors/{id}")).await.body["issue_id"].clone();
    for (action, status) in [("ignore", "ignored"), ("unresolve", "unresolved"), ("resolve", "resolved")] {
        let a = app.put(&format!("/api/issues/{issue_id}/{action}")).await;
        assert_eq!((a.status, a.body["status"].clone()), (StatusCode::OK, json!(status)), "{action}");
        assert_eq!(app.get(&format!("/api/issues/{issue_id}")).await.body["status"], json!(status));
        assert_eq!(app.get(&format!("/api/issues?status={status}")).await.body["total"], json!(1));
    }
    let errors = app.get(&format!("/api/issues/{issue_id}/errors?limit=1")).await.body;
    assert_eq!((errors["total"].clone(), errors["limit"].clone()), (json!(2), json!(1)));
    assert_eq!(errors["errors"].as_array().unwrap().len(), 1);
    assert_eq!(errors["errors"][0]["resolved"], json!(true));
}

#[sqlx::test]
async fn deleting_an_error_removes_it_and_lowers_its_issue_count(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.post_error(json!({"message": "gone soon"})).await;
    app.post_error(json!({"message": "gone soon"})).await;
    app.process().await;
    let issue_id = app.get(&format!("/api/errors/{a}")).await.body["issue_id"].clone();
    assert_eq!(app.get("/api/stats").await.body["total"], json!(2));
    let d = app.delete(&format!("/api/errors/{a}")).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(app.get(&format!("/api/errors/{a}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/errors/{a}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/issues/{issue_id}")).await.body["count"], json!(1));
    assert_eq!(app.get("/api/stats").await.body["total"], json!(1), "the cached stats were invalidated");
}

#[sqlx::test]
async fn list_filters_and_pages_select_exactly_the_matching_errors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Four days in a row, ten days ago.
    let day = |n: i64| {
        let d = chrono::Utc::now().date_naive() - chrono::TimeDelta::days(10 - n);
        format!("{d}T00:00:00Z")
    };
    let rows = [
        json!({"message": "alpha crash", "level": "fatal", "source": "backend", "environment": "prod", "release": "1.0", "timestamp": day(1)}),
        json!({"message": "beta warning", "level": "warning", "source": "frontend", "environment": "staging", "release": "1.0", "timestamp": day(2)}),
        json!({"message": "gamma 100% done_ok", "level": "info", "source": "api", "environment": "prod", "release": "2.0", "timestamp": day(3)}),
        json!({"message": "delta crash", "level": "fatal", "source": "frontend", "environment": "prod", "release": "2.0", "timestamp": day(4)}),
    ];
    for r in &rows {
        app.post_error(r.clone()).await;
    }
    app.process().await;
    let messages = |body: &Value| -> Vec<String> {
        body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_owned()).collect()
    };
    let range = format!("since={}&until={}", day(2), day(4));
    let cases: [(&str, &[&str]); 11] = [
        ("", &["delta crash", "gamma 100% done_ok", "beta warning", "alpha crash"]),
        ("level=fatal", &["delta crash", "alpha crash"]),
        ("source=frontend", &["delta crash", "beta warning"]),
        ("environment=prod&release=2.0", &["delta crash", "gamma 100% done_ok"]),
        ("q=CRASH", &["delta crash", "alpha crash"]),
        ("q=100%25", &["gamma 100% done_ok"]),
        ("q=a_c", &[]),
        (&range, &["gamma 100% done_ok", "beta warning"]),
        ("limit=2", &["delta crash", "gamma 100% done_ok"]),
        ("limit=2&offset=2", &["beta warning", "alpha crash"]),
        ("offset=10", &[]),
    ];
    for (query, expected) in cases {
        let body = app.get(&format!("/api/errors?{query}")).await.body;
        assert_eq!(messages(&body), expected, "{query}");
    }
    let paged = app.get("/api/errors?limit=2&offset=2").await.body;
    assert_eq!(
        (paged["total"].clone(), paged["limit"].clone(), paged["offset"].clone()),
        (json!(4), json!(2), json!(2))
    );
    // Totals under a filter on the errors' fields or a text search come with the page, and stay
    // right for a page past the last match.
    let cases: [(&str, &[&str], i64); 3] = [
        ("/api/errors?q=crash&limit=1&offset=1", &["alpha crash"], 2),
        ("/api/errors?level=fatal&offset=5", &[], 2),
        ("/api/errors?q=crash&offset=5", &[], 2),
    ];
    for (path, shown, total) in cases {
        let body = app.get(path).await.body;
        assert_eq!(messages(&body), shown, "{path}");
        assert_eq!(body["total"], json!(total), "{path}");
    }
    for (path, shown, total) in [("/api/issues?q=crash&limit=1", 1, 2), ("/api/issues?q=crash&offset=5", 0, 2)] {
        let body = app.get(path).await.body;
        assert_eq!((body["issues"].as_array().unwrap().len(), body["total"].clone()), (shown, json!(total)), "{path}");
    }
    // Issue search covers the errors' messages too, not only titles: "gamma" titled the issue,
    // and a later error of the same issue says something else.
    app.post_error(json!({"message": "gamma 100% done_ok", "fingerprint": "gamma-group"})).await;
    app.post_error(json!({"message": "epsilon detail only in a message", "fingerprint": "gamma-group"})).await;
    app.process().await;
    let found = app.get("/api/issues?q=epsilon&status=unresolved").await.body;
    assert_eq!(found["total"], json!(1));
    assert_eq!(found["issues"][0]["fingerprint"], json!("gamma-group"));
    let issues = app.get("/api/issues?source=frontend&environment=prod").await.body;
    assert_eq!(issues["total"], json!(1));
    assert_eq!(issues["issues"][0]["title"], json!("delta crash"));
    let stats = app.get("/api/stats").await.body;
    assert_eq!(stats["by_level"], json!({"fatal": 2, "error": 2, "warning": 1, "info": 1, "debug": 0}));
    assert_eq!(stats["by_source"], json!({"frontend": 2, "backend": 1, "api": 3}));
}

#[sqlx::test]
async fn cached_answers_never_outlive_a_change(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.post_error(json!({"message": "first"})).await;
    app.process().await;
    assert_eq!(app.get("/api/stats").await.header("x-cache"), Some("miss"));
    assert_eq!(app.get("/api/stats").await.header("x-cache"), Some("hit"));
    assert_eq!(app.get("/api/issues").await.header("x-cache"), Some("miss"));

    // A processed batch.
    app.post_error(json!({"message": "second"})).await;
    app.process().await;
    let s = app.get("/api/stats").await;
    assert_eq!((s.header("x-cache"), s.body["total"].clone()), (Some("miss"), json!(2)));
    assert_eq!(app.get("/api/issues").await.body["total"], json!(2));

    // A resolve.
    app.put(&format!("/api/errors/{id}/resolve")).await;
    let s = app.get("/api/stats").await;
    assert_eq!((s.header("x-cache"), s.body["resolved"].clone()), (Some("miss"), json!(1)));
    let issues = app.get("/api/issues?status=resolved").await.body;
    assert_eq!(issues["total"], json!(1));
}

#[sqlx::test]
async fn projects_lists_the_keys_project_with_a_valid_dsn(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = app.get("/api/projects").await.body;
    let p = &body["projects"][0];
    assert_eq!(p["id"], json!(app.project.get()));
    let dsn = p["dsn"].as_str().unwrap();
    let (scheme, rest) = dsn.split_once("://").unwrap();
    let (key, host_and_id) = rest.split_once('@').unwrap();
    assert_eq!(scheme, "http");
    assert!(key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{key}");
    assert_eq!(host_and_id, format!("127.0.0.1:3000/{}", app.project.get()));
}

#[sqlx::test]
async fn a_revoked_key_is_refused_once_the_key_cache_expires(pool: PgPool) {
    let ttl = std::time::Duration::from_secs(10);
    let app = TestApp::spawn_with(pool, |s| s.key_cache_ttl = ttl).await;
    assert_eq!(app.get("/api/stats").await.status, StatusCode::OK);
    assert!(faultline::server::db::api_keys::revoke(&app.state.db, KEY).await.unwrap());
    app.state.clock.advance(ttl - std::time::Duration::from_secs(1));
    assert_eq!(app.get("/api/stats").await.status, StatusCode::OK, "still trusted within the TTL");
    app.state.clock.advance(std::time::Duration::from_secs(2));
    assert_eq!(app.get("/api/stats").await.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn a_full_queue_answers_429_with_retry_after(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.max_queue_depth = 0).await;
    app.post_error(json!({"message": "fills the queue"})).await;
    // Past the half second ingest trusts the depth it read.
    app.state.clock.advance(std::time::Duration::from_secs(1));
    let a = app.post_raw(Some(KEY), json!({"message": "one too many"}).to_string()).await;
    assert_eq!((a.status, a.error_code()), (StatusCode::TOO_MANY_REQUESTS, "queue_full"));
    assert_eq!(a.header("retry-after"), Some("60"));
}

#[sqlx::test]
async fn text_searches_leave_common_words_out_of_the_index_and_still_match_the_whole_text(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    for n in 0..12 {
        app.post_error(json!({"message": format!("Order failed in step {n} (order {})", 500 + n)})).await;
    }
    // The rare word in another order, and the whole text inside a longer message.
    app.post_error(json!({"message": "retry 123456 of order"})).await;
    app.post_error(json!({"message": "payment ORDER 123456 rejected"})).await;
    app.process().await;
    sqlx::query("ANALYZE errors").execute(&pool).await.unwrap();
    let search = TextSearch::plan(&pool, Some("order 123456")).await.unwrap();
    assert!(search.is_narrowed(), "\"order\" is in nearly every message");
    assert!(!TextSearch::plan(&pool, Some("order failed")).await.unwrap().is_narrowed());

    let errors = app.get("/api/errors?q=order%20123456").await.body;
    assert_eq!(errors["total"], json!(1));
    assert_eq!(errors["errors"][0]["message"], json!("payment ORDER 123456 rejected"));
    let issues = app.get("/api/issues?q=order%20123456").await.body;
    assert_eq!(issues["total"], json!(1));
    assert_eq!(issues["issues"][0]["title"], json!("payment ORDER 123456 rejected"));
    // Only common words: the whole text is looked up, every message containing it found.
    assert_eq!(app.get("/api/errors?q=order%20failed").await.body["total"], json!(12));
    assert_eq!(app.get("/api/errors?q=(order%20507)").await.body["total"], json!(1));
}

#[sqlx::test]
async fn error_totals_are_exact_under_every_filter_and_stop_at_ten_thousand_only_for_text(pool: PgPool) {
    // 10,050 errors in 5 issues; every fifth error is in staging (2,010 of them).
    crate::seed::seed_project(&pool, "big", "big-key", 5, 10_050).await.unwrap();
    let app = TestApp::spawn(pool).await;
    let totals = |path: &'static str| {
        let app = &app;
        async move {
            let body = app.request(Method::GET, path, Some("big-key"), None).await.body;
            (body["total"].clone(), body["total_capped"].clone())
        }
    };
    assert_eq!(totals("/api/errors").await, (json!(10_050), json!(false)));
    assert_eq!(totals("/api/errors?status=unresolved&resolved=false").await.1, json!(false));
    assert_eq!(totals("/api/errors?environment=staging").await, (json!(2_010), json!(false)));
    assert_eq!(totals("/api/errors?since=2000-01-01T00:00:00Z").await, (json!(10_050), json!(false)));
    assert_eq!(totals("/api/errors?level=error&environment=staging").await.1, json!(false));
    assert_eq!(totals("/api/errors?q=order").await, (json!(10_000), json!(true)));
    assert_eq!(totals("/api/issues?environment=staging").await.0, json!(5));
}

#[sqlx::test]
async fn a_timestamp_far_from_its_arrival_is_stored_at_its_arrival(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let old = app.post_error(json!({"message": "from 2019", "timestamp": "2019-06-01T00:00:00Z"})).await;
    let ahead = app.post_error(json!({"message": "from the future", "timestamp": "2999-01-01T00:00:00Z"})).await;
    app.process().await;
    for id in [old, ahead] {
        let e = app.get(&format!("/api/errors/{id}")).await.body;
        assert_eq!(e["timestamp"], e["received_at"], "{e}");
    }
}

#[sqlx::test]
async fn every_answer_carries_a_request_id_and_a_sane_one_from_the_client_is_kept(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let own = app.get("/health").await;
    let id = own.header("x-request-id").unwrap().to_owned();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_ne!(app.get("/health").await.header("x-request-id"), Some(id.as_str()), "each request its own");
    let with = |given: &'static str| {
        axum::http::Request::get("/api/stats")
            .header("x-api-key", crate::helpers::KEY)
            .header("x-request-id", given)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(with("deploy-42_a")).await.header("x-request-id"), Some("deploy-42_a"));
    let replaced = app.send(with("not a token")).await;
    assert_ne!(replaced.header("x-request-id"), Some("not a token"));
}
