//! Sentry ingest conformance (the protocol notes' §7): framing, encodings, auth, limits, CORS,
//! rate limits, idempotence and grouping, through the real router, queue and worker.

use crate::helpers::{Answer, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::io::Write;

const EVENT_ID: &str = "0b8c6f1e9a2d4e7f8a1b2c3d4e5f6071";

/// A Python-style envelope: explicit lengths, trailing newline.
fn envelope(header: Value, items: &[(Value, Vec<u8>)]) -> Vec<u8> {
    let mut out = serde_json::to_vec(&header).unwrap();
    out.push(b'\n');
    for (h, payload) in items {
        let mut h = h.clone();
        h["length"] = json!(payload.len());
        out.extend(serde_json::to_vec(&h).unwrap());
        out.push(b'\n');
        out.extend(payload);
        out.push(b'\n');
    }
    out
}

fn event_item(event: Value) -> (Value, Vec<u8>) {
    (json!({"type": "event", "content_type": "application/json"}), serde_json::to_vec(&event).unwrap())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

struct Post<'a> {
    path: String,
    headers: Vec<(&'a str, String)>,
    body: Body,
}

impl<'a> Post<'a> {
    fn new(path: impl Into<String>, body: impl Into<Body>) -> Self {
        Self { path: path.into(), headers: Vec::new(), body: body.into() }
    }
    fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    async fn send(self, app: &TestApp) -> Answer {
        let mut req = Request::builder().method(Method::POST).uri(&self.path);
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        app.send(req.body(self.body).unwrap()).await
    }
}

async fn sentry_auth(app: &TestApp) -> String {
    format!("Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.python/2.35.0", app.public_key().await)
}

/// Posts an envelope to the default project with `X-Sentry-Auth`.
async fn send_envelope(app: &TestApp, auth: &str, body: impl Into<Body>) -> Answer {
    Post::new(envelope_path(app), body).header("x-sentry-auth", auth.to_owned()).send(app).await
}

fn envelope_path(app: &TestApp) -> String {
    format!("/api/{}/envelope/", app.project)
}

async fn stored_events(app: &TestApp) -> Vec<Value> {
    app.process().await;
    app.get("/api/errors?limit=500").await.body["errors"].as_array().unwrap().clone()
}

#[sqlx::test]
async fn python_and_browser_style_envelopes_are_stored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let body = envelope(
        json!({"event_id": EVENT_ID, "sent_at": "2025-03-04T10:15:00.120000Z"}),
        &[event_item(json!({"event_id": EVENT_ID, "level": "warning", "message": "disk full", "platform": "python",
            "tags": {"region": "eu"}, "user": {"id": "42"}, "environment": "prod", "release": "shop@1.0"}))],
    );
    let a = Post::new(envelope_path(&app), gzip(&body))
        .header("x-sentry-auth", auth)
        .header("content-encoding", "gzip")
        .header("content-type", "application/x-sentry-envelope")
        .send(&app)
        .await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({"id": EVENT_ID})));

    let key = app.public_key().await;
    let browser = format!(
        "{{\"event_id\":\"{}\",\"sdk\":{{\"name\":\"sentry.javascript.browser\",\"version\":\"10.1.0\"}}}}\n{{\"type\":\"event\"}}\n{{\"message\":\"checkout failed\",\"level\":\"error\",\"platform\":\"javascript\",\"sdk\":{{\"name\":\"sentry.javascript.browser\"}}}}\n{{\"type\":\"client_report\"}}\n{{\"discarded_events\":[]}}",
        "1".repeat(32)
    );
    let a = Post::new(format!("{}?sentry_version=7&sentry_key={key}", envelope_path(&app)), browser)
        .header("content-type", "text/plain;charset=UTF-8")
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    let events = stored_events(&app).await;
    assert_eq!(events.len(), 2);
    let python = events.iter().find(|e| e["event_id"] == EVENT_ID).unwrap();
    assert_eq!(python["message"], "disk full");
    assert_eq!(python["level"], "warning");
    assert_eq!(python["source"], "backend");
    assert_eq!(python["platform"], "python");
    assert_eq!(python["environment"], "prod");
    assert_eq!(python["release"], "shop@1.0");
    assert_eq!(python["context"]["tags"], json!({"region": "eu"}));
    assert_eq!(python["context"]["user"], json!({"id": "42"}));
    let browser = events.iter().find(|e| e["message"] == "checkout failed").unwrap();
    assert_eq!(browser["source"], "frontend");
    assert_eq!(app.get("/api/issues").await.body["total"], json!(2));
}

#[sqlx::test]
async fn every_content_encoding_and_chunked_bodies_are_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let body = |n: usize| envelope(json!({}), &[event_item(json!({"message": format!("encoded {n}")}))]);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&body(1)).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&body(2)).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &body(3)[..], &mut br, &Default::default()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("deflate", zlib.finish().unwrap()),
        ("deflate", raw.finish().unwrap()),
        ("br", br),
        ("", body(4)),
        ("UTF-8", body(5)),
        ("gzip", gzip(&body(6))),
    ];
    for (encoding, bytes) in cases {
        let a = Post::new(envelope_path(&app), bytes)
            .header("x-sentry-auth", auth.clone())
            .header("content-encoding", encoding)
            .send(&app)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{encoding}: {}", a.body);
    }
    // Chunked, as @sentry/node sends: a streamed body without Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = gzip(&body(7)).chunks(7).map(|c| Ok(c.to_vec())).collect();
    let a = Post::new(envelope_path(&app), Body::from_stream(futures_util::stream::iter(chunks)))
        .header("x-sentry-auth", auth.clone())
        .header("content-encoding", "gzip")
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let mut messages: Vec<String> =
        stored_events(&app).await.iter().map(|e| e["message"].as_str().unwrap().to_owned()).collect();
    messages.sort();
    assert_eq!(messages, (1..=7).map(|n| format!("encoded {n}")).collect::<Vec<_>>());
}

#[sqlx::test]
async fn malformed_bodies_get_400_and_the_server_keeps_serving(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let good = envelope(json!({}), &[event_item(json!({"message": "ok"}))]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("gzip", gzip(&good)[..20].to_vec(), "corrupt gzip"),
        ("", Vec::new(), "empty body"),
        ("", b"not json\n".to_vec(), "header not JSON"),
        ("", b"{}\nnope\n".to_vec(), "item header not JSON"),
        ("", b"{}\n{\"type\":\"event\",\"length\":500}\n{}".to_vec(), "length past the end"),
        ("", b"{}\n{\"type\":\"event\",\"length\":2}\n{}x".to_vec(), "no newline after a length payload"),
        ("", b"{}\n{\"type\":\"event\"}\n{\"a\":".to_vec(), "event JSON invalid"),
        ("", b"{\"event_id\":\"not-a-uuid\"}\n".to_vec(), "bad envelope event_id"),
    ];
    for (encoding, body, what) in cases {
        let a = Post::new(envelope_path(&app), body)
            .header("x-sentry-auth", auth.clone())
            .header("content-encoding", encoding)
            .send(&app)
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{what}: {}", a.body);
        assert!(a.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what} says what is wrong");
        assert!(a.header("x-sentry-error").is_some());
    }
    let store = format!("/api/{}/store/", app.project);
    assert_eq!(
        Post::new(store.clone(), "{\"a\":").header("x-sentry-auth", auth.clone()).send(&app).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        Post::new(store, "").header("x-sentry-auth", auth.clone()).send(&app).await.status,
        StatusCode::BAD_REQUEST
    );
    // Still serving, and a header-only envelope is fine.
    let a = send_envelope(&app, &auth, "{}").await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!({})));
    let a = send_envelope(&app, &auth, good).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(stored_events(&app).await.len(), 1);
}

#[sqlx::test]
async fn non_event_items_are_dropped_silently(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let with_unknown = envelope(
        json!({"event_id": EVENT_ID}),
        &[(json!({"type": "zz_future"}), b"whatever\nbytes".to_vec()), event_item(json!({"message": "kept"}))],
    );
    let a = send_envelope(&app, &auth, with_unknown).await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!({"id": EVENT_ID})));
    let only_sessions = envelope(
        json!({}),
        &[
            (json!({"type": "session"}), b"{\"sid\":\"x\"}".to_vec()),
            (json!({"type": "client_report"}), b"{}".to_vec()),
        ],
    );
    let a = send_envelope(&app, &auth, only_sessions).await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!({})));
    let transaction = envelope(
        json!({"event_id": "2".repeat(32)}),
        &[(json!({"type": "transaction"}), b"{\"type\":\"transaction\"}".to_vec())],
    );
    let a = send_envelope(&app, &auth, transaction).await;
    assert_eq!(a.status, StatusCode::OK);
    let typed_transaction = envelope(json!({}), &[event_item(json!({"type": "transaction", "transaction": "/x"}))]);
    assert_eq!(send_envelope(&app, &auth, typed_transaction).await.status, StatusCode::OK);
    let events = stored_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "kept");
    assert_eq!(app.get("/api/issues").await.body["total"], json!(1));
}

#[sqlx::test]
async fn the_key_is_found_everywhere_sdks_put_it_and_checked(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let other = app.other_project("other", "other-api-key").await;
    let other_key = faultline::server::db::projects::find(&app.state.db, other).await.unwrap().unwrap().public_key;
    let key = app.public_key().await;
    let body = || envelope(json!({}), &[event_item(json!({"message": "auth"}))]);
    let path = envelope_path(&app);

    assert_eq!(Post::new(path.clone(), body()).send(&app).await.status, StatusCode::UNAUTHORIZED);
    let wrong = Post::new(path.clone(), body())
        .header("x-sentry-auth", format!("Sentry sentry_key={}", "f".repeat(32)))
        .send(&app)
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let other_projects = Post::new(path.clone(), body())
        .header("x-sentry-auth", format!("Sentry sentry_key={other_key}"))
        .send(&app)
        .await;
    assert_eq!(other_projects.status, StatusCode::FORBIDDEN);

    let ok = [
        Post::new(format!("{path}?sentry_key={key}&sentry_version=7"), body()),
        Post::new(path.clone(), body()).header("x-sentry-auth", format!("Sentry sentry_key={key},sentry_version=7")),
        Post::new(path.clone(), body()).header("authorization", format!("Sentry sentry_key={key}, sentry_version=7")),
    ];
    for post in ok {
        assert_eq!(post.send(&app).await.status, StatusCode::OK);
    }
    let tunnel = envelope(
        json!({"dsn": format!("http://{key}:@127.0.0.1:3000/{}", app.project)}),
        &[event_item(json!({"message": "tunnel"}))],
    );
    assert_eq!(Post::new(path.clone(), tunnel).send(&app).await.status, StatusCode::OK);
    let conflicting = envelope(json!({"dsn": format!("http://{other_key}@127.0.0.1:3000/{}", app.project)}), &[]);
    let a = Post::new(path.clone(), conflicting)
        .header("x-sentry-auth", format!("Sentry sentry_key={key}"))
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let newer = Post::new(path.clone(), body())
        .header("x-sentry-auth", format!("Sentry sentry_key={key}, sentry_version=8"))
        .send(&app)
        .await;
    assert_eq!(newer.status, StatusCode::BAD_REQUEST);
    assert_eq!(stored_events(&app).await.len(), 4);
}

#[sqlx::test]
async fn both_route_families_and_path_variants_resolve(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let body = || envelope(json!({}), &[event_item(json!({"message": "paths"}))]);
    let p = app.project;
    for path in [
        format!("/api/{p}/envelope"),
        format!("//api/{p}/envelope/"),
        format!("/api/{p}/store/"),
        format!("/api/{p}/store"),
    ] {
        let is_store = path.contains("store");
        let payload = if is_store { serde_json::to_vec(&json!({"message": "stored"})).unwrap() } else { body() };
        let a = Post::new(path.clone(), payload).header("x-sentry-auth", auth.clone()).send(&app).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert_eq!(a.body["id"].as_str().map(str::len), Some(32), "{path}");
    }
    let a = Post::new("/api/abc/envelope/", body()).header("x-sentry-auth", auth).send(&app).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // The REST API still answers beside the ingest routes.
    assert_eq!(app.get("/api/errors").await.status, StatusCode::OK);
    assert_eq!(app.get("/api/unknown/thing").await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test]
async fn cors_headers_are_on_every_ingest_answer(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.rate_limit_per_minute = 1).await;
    let pre = app
        .send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri(envelope_path(&app))
                .header("origin", "http://shop.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(pre.status.is_success());
    assert!(pre.header("access-control-allow-headers").unwrap().contains("content-type"));
    assert!(pre.header("access-control-allow-methods").unwrap().contains("POST"));
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));

    let key = app.public_key().await;
    let path = format!("{}?sentry_key={key}", envelope_path(&app));
    let body = || envelope(json!({}), &[event_item(json!({"message": "cors"}))]);
    let first = Post::new(path.clone(), body()).header("origin", "http://shop.example").send(&app).await;
    let limited = Post::new(path.clone(), body()).header("origin", "http://shop.example").send(&app).await;
    let denied = Post::new(envelope_path(&app), body()).header("origin", "http://shop.example").send(&app).await;
    assert_eq!(
        (first.status, limited.status, denied.status),
        (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS, StatusCode::UNAUTHORIZED)
    );
    for a in [&first, &limited, &denied] {
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert!(a.header("access-control-expose-headers").unwrap().contains("x-sentry-rate-limits"));
    }
}

#[sqlx::test]
async fn rate_limits_answer_429_in_the_sdks_format(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.rate_limit_per_minute = 2).await;
    let auth = sentry_auth(&app).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for n in 0..3 {
        let a =
            Post::new(envelope_path(&app), envelope(json!({}), &[event_item(json!({"message": format!("rl {n}")}))]))
                .header("x-sentry-auth", auth.clone())
                .send(&app)
                .await;
        statuses.push(a.status);
        last = Some(a);
    }
    assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    let last = last.unwrap();
    let retry: u64 = last.header("retry-after").unwrap().parse().expect("an integer Retry-After");
    assert!((1..=60).contains(&retry));
    let limits = last.header("x-sentry-rate-limits").unwrap();
    let seconds: u64 = limits.split(':').next().unwrap().parse().expect("integer seconds");
    assert_eq!(seconds, retry);
    assert_eq!(limits.split(':').nth(1), Some(""), "empty categories: everything");
    assert_eq!(stored_events(&app).await.len(), 2);
}

#[sqlx::test]
async fn a_queue_over_its_depth_answers_429(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |s| s.max_queue_depth = 1).await;
    let auth = sentry_auth(&app).await;
    let send = |n: u32| {
        Post::new(envelope_path(&app), envelope(json!({}), &[event_item(json!({"message": format!("q {n}")}))]))
            .header("x-sentry-auth", auth.clone())
    };
    assert_eq!(send(1).send(&app).await.status, StatusCode::OK);
    assert_eq!(send(2).send(&app).await.status, StatusCode::OK);
    // Past the half second ingest trusts the depth it read.
    app.state.clock.advance(std::time::Duration::from_secs(1));
    let a = send(3).send(&app).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.header("retry-after").is_some());
}

#[sqlx::test]
async fn size_limits_answer_413_without_inflating_a_bomb(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let big = json!({"message": "x".repeat(1024 * 1024)});
    let a = send_envelope(&app, &auth, envelope(json!({}), &[event_item(big)])).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    // 1 GiB of zeros in a few MiB of gzip: refused at the 100 MiB decoded cap.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..1024 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 5 * 1024 * 1024);
    let a = Post::new(envelope_path(&app), bomb)
        .header("x-sentry-auth", auth.clone())
        .header("content-encoding", "gzip")
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let raw = vec![b' '; 21 * 1024 * 1024];
    let a = send_envelope(&app, &auth, raw).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A big attachment beside an event is fine: it is dropped.
    let attachment = (json!({"type": "attachment", "filename": "a.bin"}), vec![7u8; 10 * 1024 * 1024]);
    let ok = envelope(json!({}), &[attachment, event_item(json!({"message": "with attachment"}))]);
    let a = send_envelope(&app, &auth, ok).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(stored_events(&app).await.len(), 1);
}

#[sqlx::test]
async fn a_retry_without_a_timestamp_stored_in_a_later_batch_is_still_stored_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    // Without a time of its own, each try is stored at its arrival: another time each, so the
    // event id has to find the first.
    let body = envelope(json!({}), &[event_item(json!({"event_id": EVENT_ID, "message": "retried"}))]);
    for _ in 0..2 {
        assert_eq!(send_envelope(&app, &auth, body.clone()).await.status, StatusCode::OK);
        app.process().await;
    }
    let events = stored_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let issue = app.get(&format!("/api/issues/{}", events[0]["issue_id"])).await.body;
    assert_eq!(issue["count"], json!(1));
}

#[sqlx::test]
async fn duplicates_are_stored_once_and_ids_follow_the_precedence(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let body =
        envelope(json!({"event_id": EVENT_ID}), &[event_item(json!({"event_id": "9".repeat(32), "message": "twice"}))]);
    for _ in 0..2 {
        let a = send_envelope(&app, &auth, body.clone()).await;
        assert_eq!((a.status, a.body), (StatusCode::OK, json!({"id": EVENT_ID})));
    }
    let store = format!("/api/{}/store/", app.project);
    let dashed = "A1B2C3D4-0000-4000-8000-00000000000F";
    let a = Post::new(store.clone(), json!({"event_id": dashed, "message": "dashed"}).to_string())
        .header("x-sentry-auth", auth.clone())
        .send(&app)
        .await;
    assert_eq!(a.body, json!({"id": "a1b2c3d400004000800000000000000f"}));
    let a = Post::new(store, json!({"message": "no id"}).to_string()).header("x-sentry-auth", auth).send(&app).await;
    let generated = a.body["id"].as_str().unwrap().to_owned();
    assert!(generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()));

    let events = stored_events(&app).await;
    assert_eq!(events.len(), 3);
    let twice = events.iter().find(|e| e["message"] == "twice").unwrap();
    assert_eq!(twice["event_id"], EVENT_ID);
    let issue = app.get(&format!("/api/issues/{}", twice["issue_id"])).await.body;
    assert_eq!(issue["count"], json!(1));
    assert!(events.iter().any(|e| e["event_id"] == generated));
}

#[sqlx::test]
async fn grouping_follows_fingerprints_templates_and_frames(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let frames = |f: &str| json!({"frames": [{"module": "shop.views", "function": f, "in_app": true, "lineno": 3}]});
    let events = [
        ("a", json!({"message": "one", "fingerprint": ["a", "b"]})),
        ("a", json!({"exception": {"values": [{"type": "X", "value": "y"}]}, "fingerprint": ["a", "b"]})),
        ("tpl", json!({"logentry": {"message": "user %s missing", "params": ["1"]}})),
        ("tpl", json!({"logentry": {"message": "user %s missing", "params": ["2"]}})),
        ("tpl2", json!({"message": "order 12 failed"})),
        ("tpl2", json!({"message": "order 99 failed"})),
        (
            "ex",
            json!({"exception": {"values": [{"type": "KeyError", "value": "'sku'", "stacktrace": frames("checkout")}]}}),
        ),
        (
            "ex",
            json!({"exception": {"values": [{"type": "KeyError", "value": "'qty'", "stacktrace": frames("checkout")}]}}),
        ),
        (
            "ex-other",
            json!({"exception": {"values": [{"type": "KeyError", "value": "'sku'", "stacktrace": frames("refund")}]}}),
        ),
        ("dflt", json!({"message": "order 12 failed", "fingerprint": ["{{ default }}", "x"]})),
        ("dflt", json!({"message": "order 13 failed", "fingerprint": ["{{default}}", "x"]})),
    ];
    for (n, (_, ev)) in events.iter().enumerate() {
        let mut ev = ev.clone();
        ev["event_id"] = json!(format!("{:032x}", n + 1));
        let a = send_envelope(&app, &auth, envelope(json!({}), &[event_item(ev)])).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    // And the same text through the REST API: grouped by its own rule, never with these.
    app.post_error(json!({"message": "order 12 failed"})).await;
    let stored = stored_events(&app).await;
    let issue_of =
        |n: usize| stored.iter().find(|e| e["event_id"] == format!("{:032x}", n + 1)).unwrap()["issue_id"].clone();
    for i in 0..events.len() {
        for j in 0..events.len() {
            assert_eq!(events[i].0 == events[j].0, issue_of(i) == issue_of(j), "events {i} and {j}");
        }
    }
    let rest = stored.iter().find(|e| e["source"] == "api").unwrap();
    assert!((0..events.len()).all(|n| issue_of(n) != rest["issue_id"]));
    let ex = app.get(&format!("/api/issues/{}", issue_of(6))).await.body;
    assert_eq!((ex["title"].clone(), ex["count"].clone()), (json!("KeyError: 'sku'"), json!(2)));
    assert_eq!(ex["culprit"], json!("shop.views in checkout"));
}

#[sqlx::test]
async fn a_resolved_issue_reopens_when_an_sdk_sends_it_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let send = |msg: &'static str| {
        Post::new(envelope_path(&app), envelope(json!({}), &[event_item(json!({"message": msg}))]))
            .header("x-sentry-auth", auth.clone())
    };
    send("again 1").send(&app).await;
    let issue = stored_events(&app).await[0]["issue_id"].clone();
    assert_eq!(app.put(&format!("/api/issues/{issue}/resolve")).await.body["status"], json!("resolved"));
    send("again 2").send(&app).await;
    app.process().await;
    let now = app.get(&format!("/api/issues/{issue}")).await.body;
    assert_eq!((now["status"].clone(), now["count"].clone()), (json!("unresolved"), json!(2)));
}

#[sqlx::test]
async fn a_rotated_dsn_key_replaces_the_old_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let old_auth = sentry_auth(&app).await;
    let old_dsn = app.get("/api/projects").await.body["projects"][0]["dsn"].clone();
    let body = || envelope(json!({}), &[event_item(json!({"message": "rotation"}))]);
    assert_eq!(send_envelope(&app, &old_auth, body()).await.status, StatusCode::OK);

    let rotated = app
        .request(Method::POST, &format!("/api/projects/{}/rotate-key", app.project), Some(crate::helpers::KEY), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_ne!(rotated.body["dsn"], old_dsn);
    assert_eq!(app.get("/api/projects").await.body["projects"][0]["dsn"], rotated.body["dsn"]);
    let new_key = faultline::server::ingest::auth::dsn_key(rotated.body["dsn"].as_str().unwrap()).unwrap();
    assert_eq!(new_key.len(), 32);

    assert_eq!(send_envelope(&app, &old_auth, body()).await.status, StatusCode::FORBIDDEN);
    let new_auth = format!("Sentry sentry_key={new_key}, sentry_version=7");
    assert_eq!(send_envelope(&app, &new_auth, body()).await.status, StatusCode::OK);
    let other = app.request(Method::POST, "/api/projects/999/rotate-key", Some(crate::helpers::KEY), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(stored_events(&app).await.len(), 2);
}

#[sqlx::test]
async fn hostile_event_contents_are_refused_or_repaired_never_lost_or_500(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let raw_item = |payload: &str| format!("{{}}\n{{\"type\":\"event\"}}\n{payload}");
    // JSON the worker could not read is refused at the door, not accepted and lost.
    for bad in [r#"{"message":"\ud800"}"#, r#"{"extra":{"n":1e400}}"#, "[1,2]", "\"text\""] {
        let a = send_envelope(&app, &auth, raw_item(bad)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.body);
    }
    let store = format!("/api/{}/store/", app.project);
    let a = Post::new(store, r#"{"event_id":"not-an-id","message":"m"}"#)
        .header("x-sentry-auth", auth.clone())
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Malformed keys are refused without a lookup.
    let a =
        Post::new(format!("{}?sentry_key=%00", envelope_path(&app)), raw_item(r#"{"message":"m"}"#)).send(&app).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = Post::new(envelope_path(&app), raw_item(r#"{"message":"m"}"#))
        .header("x-sentry-auth", "Sentry sentry_key=".to_owned() + &"k".repeat(5000))
        .send(&app)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // NUL characters (which PostgreSQL cannot store) are removed; an impossible clock is not believed.
    let nul = json!({"message": "nul\u{0} inside", "tags": {"k\u{0}": "v\u{0}"}, "extra": {"x": "\u{0}"}, "timestamp": 32503000000.0_f64});
    let a = send_envelope(&app, &auth, envelope(json!({}), &[event_item(nul)])).await;
    assert_eq!(a.status, StatusCode::OK);
    let old = json!({"message": "from the year -5000", "timestamp": "-5000-01-01T00:00:00"});
    assert_eq!(send_envelope(&app, &auth, envelope(json!({}), &[event_item(old)])).await.status, StatusCode::OK);
    let events = stored_events(&app).await;
    assert_eq!(events.len(), 2, "both repaired events were stored");
    let nul = events.iter().find(|e| e["message"] == "nul inside").unwrap();
    assert_eq!(nul["context"]["tags"], json!({"k": "v"}));
    for e in &events {
        let t = chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
        assert!((chrono::Utc::now() - t.to_utc()).num_minutes().abs() < 5, "{t}");
    }
    let dead: i64 = {
        let mut conn = app.state.redis.get().await.unwrap();
        deadpool_redis::redis::cmd("XLEN")
            .arg(format!("{}:events:dead", app.state.settings.redis_prefix))
            .query_async(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(dead, 0);
}

#[sqlx::test]
async fn nul_characters_in_sdk_events_are_removed_and_the_rest_is_stored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let auth = sentry_auth(&app).await;
    let event = json!({
        "message": "before\u{0}after",
        "tags": {"k\u{0}ey": "v\u{0}alue"},
        "exception": {"values": [{"type": "ValueError", "value": "bad\u{0}input",
                                  "stacktrace": {"frames": [{"filename": "app.py", "function": "main", "vars": {"s": "x\u{0}y"}}]}}]},
        "breadcrumbs": [{"message": "crumb\u{0}1"}],
    });
    let a = send_envelope(&app, &auth, envelope(json!({}), &[event_item(event)])).await;
    assert_eq!(a.status, StatusCode::OK);
    let stored = stored_events(&app).await;
    assert_eq!(stored.len(), 1);
    let e = &stored[0];
    assert_eq!(e["message"], json!("ValueError: badinput"));
    assert_eq!(e["context"]["tags"], json!({"key": "value"}));
    let exception = &e["context"]["exception"]["values"][0];
    assert_eq!(exception["stacktrace"]["frames"][0]["vars"]["s"], json!("xy"));
    assert_eq!(e["context"]["breadcrumbs"][0]["message"], json!("crumb1"));
    assert!(!e.to_string().contains("\\u0000"));
}
