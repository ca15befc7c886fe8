//! Signing in to the dashboard: the guard on every page, server function and `/live`, the
//! session cookie, sign-out, the throttle, the first admin's set-up link, and the refusal of
//! calls from other sites; the account page's password change and sessions.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, session_cookie};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use faultline::api::account::{ChangePassword, CompleteSetup, EndSession, GetAccount, RenameAccount, SignIn, SignOut};
use faultline::api::issues::{ListIssues, SetIssueStatus};
use faultline::model::encode_query_value as form;
use leptos::server_fn::ServerFn;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test]
async fn every_server_function_but_the_public_ones_answers_401_without_a_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    use faultline::api::users::{AcceptInvite, ResetPassword};
    let public = [SignIn::PATH, CompleteSetup::PATH, AcceptInvite::PATH, ResetPassword::PATH];
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    assert!(paths.contains(&ListIssues::PATH) && paths.contains(&SignOut::PATH), "the registry lists them: {paths:?}");
    for path in public {
        assert!(paths.contains(&path), "{path} is registered");
        // Without its arguments, a public one answers the caller's mistake, never a 500.
        let a = app.call_server_fn(path, None, "").await;
        assert_eq!((a.status, a.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"), "{path}: {}", a.body);
    }
    let guarded: Vec<&str> = paths.iter().copied().filter(|p| !public.contains(p)).collect();
    assert!(guarded.len() >= 12, "{guarded:?}");
    for path in guarded {
        let a = app.call_server_fn(path, None, "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}: {}", a.body);
        assert_eq!(a.error_code(), "unauthorized", "{path}");
        // A cookie of no session is no better.
        let a = app.call_server_fn(path, Some("faultline_session=fls_forged"), "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path} with a forged cookie");
    }
    let live = app.send(Request::get("/live").body(Body::empty()).unwrap()).await;
    assert_eq!(live.status, StatusCode::UNAUTHORIZED);
    assert_eq!(live.error_code(), "unauthorized");
}

#[sqlx::test]
async fn pages_send_visitors_without_a_session_to_login_with_the_page_they_asked_for(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (path, next) in [
        ("/", "/"),
        ("/settings", "/settings"),
        ("/issues/5?event=0190&x=a%20b", "/issues/5%3Fevent%3D0190%26x%3Da%2520b"),
    ] {
        let a = app.page(path, None).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(a.header("location"), Some(format!("/login?next={next}").as_str()), "{path}");
    }
    let login = app.page("/login?next=%2Fsettings", None).await;
    assert_eq!(login.status, StatusCode::OK);
    let html = login.body.as_str().unwrap();
    assert!(html.contains("Email") && html.contains("Password") && html.contains("Sign in"), "{html}");

    // Signed in, the pages render and /login moves on to `next` (only ever on this site).
    let cookie = app.session().await;
    assert_eq!(app.page("/settings", Some(&cookie)).await.status, StatusCode::OK);
    let a = app.page("/login?next=%2Fsettings", Some(&cookie)).await;
    assert_eq!((a.status, a.header("location")), (StatusCode::SEE_OTHER, Some("/settings")));
    for hostile in ["https%3A%2F%2Fevil.example", "%2F%2Fevil.example", "%2F%5Cevil.example"] {
        let a = app.page(&format!("/login?next={hostile}"), Some(&cookie)).await;
        assert_eq!(a.header("location"), Some("/"), "{hostile}");
    }
}

#[sqlx::test]
async fn signing_in_sets_an_http_only_lax_cookie_whose_token_the_server_keeps_only_hashed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let cookie = app.session().await;
    let a = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/issues/3").await;
    assert_eq!(a.body, json!("/issues/3"), "answers where to go");
    let set = a.header("set-cookie").unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    // Each sign-in gets a new token.
    assert_ne!(session_cookie(&a).unwrap(), cookie);
    let token = cookie.split_once('=').unwrap().1;
    assert!(token.len() >= 32, "at least 128 bits");
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|h| h.len() == 32 && h.as_slice() != token.as_bytes()), "only hashes");

    let listed = app.call_server_fn(ListIssues::PATH, Some(&cookie), "query=").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["total"], 0);

    let https = TestApp::spawn_with(app.state.db.clone(), |s| s.public_url = "https://errors.example.com".into()).await;
    let a = https.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/").await;
    let set = a.header("set-cookie").unwrap();
    assert!(set.starts_with("__Host-faultline_session=") && set.contains("; Secure"), "{set}");
}

#[sqlx::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.session().await;
    let wrong = app.sign_in(ADMIN_EMAIL, "not the password", "/").await;
    let unknown = app.sign_in("nobody@example.com", "not the password", "/").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.error_code(), "wrong_credentials");
    assert!(session_cookie(&wrong).is_none() && session_cookie(&unknown).is_none());
    // A deactivated user's right password is as wrong.
    sqlx::query("UPDATE users SET active = false").execute(&app.state.db).await.unwrap();
    let inactive = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/").await;
    assert_eq!((inactive.status, &inactive.body), (wrong.status, &wrong.body));
}

#[sqlx::test]
async fn after_five_failures_for_an_email_sign_in_answers_429_with_retry_after(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.session().await;
    for _ in 0..5 {
        assert_eq!(app.sign_in(ADMIN_EMAIL, "guess guess guess", "/").await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password now waits.
    let a = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.error_code(), "too_many_attempts");
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert!(session_cookie(&a).is_none());
}

#[sqlx::test]
async fn signing_out_ends_that_session_on_the_server_and_no_other(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.session().await;
    let second = app.session().await;
    let out = app.call_server_fn(SignOut::PATH, Some(&first), "").await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"), "the browser forgets it");
    // The old cookie, replayed, opens nothing.
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&first), "query=").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.page("/", Some(&first)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&second), "query=").await.status, StatusCode::OK);
    assert_eq!(app.page("/", Some(&second)).await.header("cache-control"), Some("no-store"));
}

#[sqlx::test]
async fn server_function_calls_from_another_site_are_refused_and_change_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let cookie = app.session().await;
    app.post_error(json!({"message": "keep me unresolved"})).await;
    app.process().await;
    let issue = app.get("/api/issues").await.body["issues"][0]["id"].as_i64().unwrap();
    let body = format!("id={issue}&status=resolved");
    let call = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(SetIssueStatus::PATH)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie.as_str())
            .header("host", "127.0.0.1:3000");
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        req.body(Body::from(body.clone())).unwrap()
    };
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some("http://127.0.0.1:3000"), Some("cross-site")),
    ] {
        let a = app.send(call(origin, site)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{origin:?} {site:?}: {}", a.body);
        assert_eq!(a.error_code(), "forbidden");
    }
    assert_eq!(app.get(&format!("/api/issues/{issue}")).await.body["status"], "unresolved");
    // From the site itself (by its public URL or the host it was sent to), the call goes through.
    let a = app.send(call(Some("http://127.0.0.1:3000"), Some("same-origin"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(app.get(&format!("/api/issues/{issue}")).await.body["status"], "resolved");
}

#[sqlx::test]
async fn the_setup_link_creates_the_first_admin_once_and_signs_them_in(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let url = app.setup_url.clone().expect("no user yet: a set-up link");
    let token = url.rsplit_once("/setup/").unwrap().1.to_owned();
    assert!(url.starts_with(&app.state.settings.public_url));
    assert_eq!(app.page(&format!("/setup/{token}"), None).await.status, StatusCode::OK);
    let setup = |email: &str, password: &str| {
        format!("token={}&email={}&name=Ada&password={}", form(&token), form(email), form(password))
    };
    let short = app.call_server_fn(CompleteSetup::PATH, None, &setup("ada@example.com", "short")).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", short.body);
    let a = app.call_server_fn(CompleteSetup::PATH, None, &setup("ada@example.com", "a long password")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = session_cookie(&a).expect("signed in");
    assert_eq!(app.page("/", Some(&cookie)).await.status, StatusCode::OK);
    let user = faultline::server::db::users::find_by_email(&app.state.db, "ada@example.com").await.unwrap().unwrap();
    assert_eq!((user.role(), user.name.as_str()), (faultline::model::InstanceRole::Admin, "Ada"));

    // The link works once; a start with a user prints none.
    let again = app.call_server_fn(CompleteSetup::PATH, None, &setup("eve@example.com", "a long password")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(faultline::server::db::users::find_by_email(&app.state.db, "eve@example.com").await.unwrap().is_none());
    assert!(TestApp::spawn(pool).await.setup_url.is_none());
}

#[sqlx::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.session().await;
    let elsewhere = app.session().await;
    let change = |current: &str, new: &str| format!("current={}&new={}", form(current), form(new));
    let wrong =
        app.call_server_fn(ChangePassword::PATH, Some(&here), &change("not my password", "a new password")).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    let short = app.call_server_fn(ChangePassword::PATH, Some(&here), &change(ADMIN_PASSWORD, "short")).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&elsewhere), "query=").await.status, StatusCode::OK);

    let a = app.call_server_fn(ChangePassword::PATH, Some(&here), &change(ADMIN_PASSWORD, "a new password")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&elsewhere), "query=").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&here), "query=").await.status, StatusCode::OK);
    assert_eq!(app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in(ADMIN_EMAIL, "a new password", "/").await.status, StatusCode::OK);
}

#[sqlx::test]
async fn a_user_sees_and_ends_their_own_sessions_and_no_one_elses(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.session().await;
    let other = app.session().await;
    let account = app.call_server_fn(GetAccount::PATH, Some(&here), "").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.body);
    assert_eq!(account.body["user"]["email"], ADMIN_EMAIL);
    let sessions = account.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    // The listed id is not the cookie's token.
    assert!(!other.contains(&other_id));

    // Another user cannot end it.
    let hash = app.state.passwords.hash("second user password").await.unwrap();
    faultline::server::db::users::create(
        &app.state.db,
        "b@example.com",
        "B",
        &hash,
        faultline::model::InstanceRole::Member,
    )
    .await
    .unwrap();
    let b = crate::helpers::session_cookie(&app.sign_in("b@example.com", "second user password", "/").await).unwrap();
    let refused = app.call_server_fn(EndSession::PATH, Some(&b), &format!("id={other_id}")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&other), "query=").await.status, StatusCode::OK);

    let ended = app.call_server_fn(EndSession::PATH, Some(&here), &format!("id={other_id}")).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(app.call_server_fn(ListIssues::PATH, Some(&other), "query=").await.status, StatusCode::UNAUTHORIZED);
    let renamed = app.call_server_fn(RenameAccount::PATH, Some(&here), "name=Grace%20H").await;
    assert_eq!(renamed.status, StatusCode::OK);
    let account = app.call_server_fn(GetAccount::PATH, Some(&here), "").await;
    assert_eq!(account.body["user"]["name"], "Grace H");
    assert_eq!(account.body["sessions"].as_array().unwrap().len(), 1);
}

#[sqlx::test]
async fn sign_ins_account_key_and_issue_changes_are_audited_and_entries_are_never_changed(pool: PgPool) {
    use faultline::api::projects::{CreateApiKey, RotateDsnKey};
    let app = TestApp::spawn(pool).await;
    app.sign_in(ADMIN_EMAIL, "a wrong password", "/").await;
    let cookie = app.session().await;
    app.post_error(json!({"message": "audited"})).await;
    app.process().await;
    let issue = app.get("/api/issues").await.body["issues"][0]["id"].as_i64().unwrap();
    for (path, body) in [
        (SetIssueStatus::PATH, format!("id={issue}&status=resolved")),
        (CreateApiKey::PATH, format!("project={}&name=ci", app.project)),
        (RotateDsnKey::PATH, format!("project={}", app.project)),
        (SignOut::PATH, String::new()),
    ] {
        let a = app.call_server_fn(path, Some(&cookie), &body).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    }
    /// actor, action, actor_id, project_id, target, address
    type Row = (String, String, Option<i64>, Option<i64>, String, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as("SELECT actor, action, actor_id, project_id, target, address FROM audit_log ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(actions, ["sign_in_failed", "sign_in", "issue_status", "api_key_create", "dsn_rotate", "sign_out"]);
    assert!(rows.iter().all(|r| r.0 == ADMIN_EMAIL && r.5.is_some()), "{rows:?}");
    assert_eq!(rows[0].2, None, "a failed attempt names the email tried, no user");
    assert!(rows[1..].iter().all(|r| r.2.is_some()));
    assert_eq!((rows[2].3, rows[2].4.as_str()), (Some(app.project.get()), format!("issue {issue}: resolved").as_str()));

    let changed = sqlx::query("UPDATE audit_log SET actor = 'someone else'").execute(&app.state.db).await;
    assert!(changed.is_err(), "entries are never edited");
    let deleted = sqlx::query("DELETE FROM audit_log").execute(&app.state.db).await;
    assert!(deleted.is_err(), "entries are kept a year");
}
