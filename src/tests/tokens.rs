//! Personal API tokens on the REST API: they act as their user, within their scope, on the
//! project `project_id` names; they stop working when revoked, expired or their user is
//! deactivated; a key or token never reaches another project's data; the management routes
//! (projects, members, users, tokens, audit) and `FAULTLINE_ADMIN_TOKEN`.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, KEY, TestApp, bearer_call as call};
use axum::http::{Method, StatusCode};
use faultline::model::{InstanceRole, ProjectRole, TokenScope, UserId};
use faultline::server::accounts::tokens;
use faultline::server::db;
use serde_json::json;
use sqlx::PgPool;

async fn token(app: &TestApp, user: UserId, scope: TokenScope) -> String {
    tokens::create(&app.state, user, "test", scope, None).await.unwrap().token
}

/// The id of the admin `TestApp::session` signs in.
async fn admin_id(app: &TestApp) -> UserId {
    app.session().await;
    db::users::find_by_email(&app.state.db, ADMIN_EMAIL).await.unwrap().unwrap().id
}

/// A stored error's issue in the project of `key`.
async fn issue_of(app: &TestApp, key: &str, message: &str) -> i64 {
    let id = app.post_error_as(key, json!({"message": message})).await;
    app.process().await;
    app.request(Method::GET, &format!("/api/errors/{id}"), Some(key), None).await.body["issue_id"].as_i64().unwrap()
}

#[sqlx::test]
async fn a_token_acts_as_its_user_within_its_scope_and_their_role(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (bob, _) = app.user_session("bob@example.com", InstanceRole::Member).await;
    let project = app.project;
    db::projects::set_member(&app.state.db, project, bob, ProjectRole::Member).await.unwrap();
    let issue = issue_of(&app, KEY, "for tokens").await;
    let read = token(&app, bob, TokenScope::Read).await;
    let write = token(&app, bob, TokenScope::Write).await;
    let admin = token(&app, bob, TokenScope::Admin).await;

    let listed = call(&app, Method::GET, "/api/issues", &read, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["issues"][0]["id"], issue, "bob's one project needs no project_id");
    let stats = call(&app, Method::GET, &format!("/api/stats?project_id={project}"), &read, None).await;
    assert_eq!(stats.body["total"], 1);
    let resolve = format!("/api/issues/{issue}/resolve");
    let refused = call(&app, Method::PUT, &resolve, &read, None).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "read scope does not triage"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM issues WHERE id = $1")
        .bind(issue)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(status, "unresolved", "a refused call changes nothing");
    assert_eq!(call(&app, Method::PUT, &resolve, &write, None).await.status, StatusCode::OK);
    assert_eq!(app.put(&format!("/api/issues/{issue}/unresolve")).await.status, StatusCode::OK);
    // Both changes are in the audit log: by bob through his token, then by the project's key.
    let who: Vec<(String, Option<i64>, String)> =
        sqlx::query_as("SELECT actor, actor_id, target FROM audit_log WHERE action = 'issue_status' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        who,
        [
            ("bob@example.com".to_owned(), Some(bob.get()), format!("issue {issue}: resolved")),
            ("API key".to_owned(), None, format!("issue {issue}: unresolved")),
        ]
    );

    // Bob is a member, not an admin, of the project: even an admin-scope token cannot manage it.
    let rotate = format!("/api/projects/{project}/rotate-key");
    assert_eq!(call(&app, Method::POST, &rotate, &admin, None).await.status, StatusCode::FORBIDDEN);
    let rename =
        call(&app, Method::PATCH, &format!("/api/projects/{project}"), &admin, Some(json!({"name": "x"}))).await;
    assert_eq!(rename.status, StatusCode::FORBIDDEN);
    // Creating a project needs admin scope; with it, bob becomes the new project's admin.
    let denied = call(&app, Method::POST, "/api/projects", &write, Some(json!({"name": "Bob's"}))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let made = call(&app, Method::POST, "/api/projects", &admin, Some(json!({"name": "Bob's"}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.body["api_key"].as_str().unwrap().starts_with("flt_"));
    let new_id = made.body["id"].as_i64().unwrap();
    let members = call(&app, Method::GET, &format!("/api/projects/{new_id}/members"), &read, None).await;
    assert_eq!(
        (members.body["members"][0]["user"].as_i64(), members.body["members"][0]["role"].as_str()),
        (Some(bob.get()), Some("admin"))
    );
    // Users and the audit log are for instance admins.
    assert_eq!(call(&app, Method::GET, "/api/users", &admin, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, Method::GET, "/api/audit", &admin, None).await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn project_id_chooses_among_several_and_another_projects_data_answers_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (cleo, _) = app.user_session("cleo@example.com", InstanceRole::Member).await;
    let web = app.other_project("Web", "web-key").await;
    let hidden = app.other_project("Hidden", "hidden-key").await;
    for p in [app.project, web] {
        db::projects::set_member(&app.state.db, p, cleo, ProjectRole::Viewer).await.unwrap();
    }
    let web_issue = issue_of(&app, "web-key", "in web").await;
    let hidden_issue = issue_of(&app, "hidden-key", "in hidden").await;
    let t = token(&app, cleo, TokenScope::Read).await;

    let ambiguous = call(&app, Method::GET, "/api/issues", &t, None).await;
    assert_eq!((ambiguous.status, ambiguous.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"));
    assert!(ambiguous.body["error"]["message"].as_str().unwrap().starts_with("project_id"));
    let web_list = call(&app, Method::GET, &format!("/api/issues?project_id={web}"), &t, None).await;
    assert_eq!(web_list.body["issues"][0]["id"], web_issue);
    // Another project's id, or its issue under one's own project, answers like nothing there.
    let nothing = call(&app, Method::GET, "/api/issues?project_id=999999", &t, None).await;
    for path in [
        format!("/api/issues?project_id={hidden}"),
        format!("/api/issues/{hidden_issue}?project_id={web}"),
        format!("/api/issues/{hidden_issue}?project_id={hidden}"),
        format!("/api/stats?project_id={hidden}"),
        format!("/api/issues/{hidden_issue}/resolve?project_id={hidden}"),
    ] {
        let method = if path.contains("resolve") { Method::PUT } else { Method::GET };
        let a = call(&app, method, &path, &t, None).await;
        assert_eq!((a.status, &a.body), (nothing.status, &nothing.body), "{path}");
    }
    assert_eq!(nothing.status, StatusCode::NOT_FOUND);
    // A project key is held to its project the same way.
    for path in [format!("/api/issues/{hidden_issue}"), format!("/api/issues?project_id={hidden}")] {
        assert_eq!(app.request(Method::GET, &path, Some(KEY), None).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let own = app.request(Method::GET, &format!("/api/issues?project_id={}", app.project), Some(KEY), None).await;
    assert_eq!(own.status, StatusCode::OK);
    let projects = call(&app, Method::GET, "/api/projects", &t, None).await;
    let mut ids: Vec<i64> =
        projects.body["projects"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [app.project.get(), web.get()], "a token lists its user's projects only");
}

#[sqlx::test]
async fn revoked_expired_and_deactivated_users_tokens_stop_working(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (dora, _) = app.user_session("dora@example.com", InstanceRole::Member).await;
    db::projects::set_member(&app.state.db, app.project, dora, ProjectRole::Viewer).await.unwrap();
    let works = |t: String| {
        let app = &app;
        async move { call(app, Method::GET, "/api/stats", &t, None).await.status }
    };
    // Made through the API, shown once, listed without its secret, revoked.
    let first = token(&app, dora, TokenScope::Read).await;
    let made = call(&app, Method::POST, "/api/tokens", &first, Some(json!({"name": "ci", "scope": "read"}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let second = made.body["token"].as_str().unwrap().to_owned();
    assert_eq!(works(second.clone()).await, StatusCode::OK);
    let listed = call(&app, Method::GET, "/api/tokens", &first, None).await;
    assert_eq!(listed.body["tokens"].as_array().unwrap().len(), 2);
    assert!(!listed.body.to_string().contains(&second[8..]), "no secret is listed");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))")
            .bind(&second)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(stored, 1, "only the hash is kept");
    let id = made.body["id"].as_i64().unwrap();
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/tokens/{id}"), &first, None).await.status,
        StatusCode::NO_CONTENT
    );
    let revoked = call(&app, Method::GET, "/api/stats", &second, None).await;
    assert_eq!((revoked.status, revoked.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE action IN ('token_create', 'token_revoke') ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let dora_email = "dora@example.com".to_owned();
    assert_eq!(audited, [("token_create".to_owned(), dora_email.clone()), ("token_revoke".to_owned(), dora_email)]);
    // More scope than the caller's own is refused.
    let more = call(&app, Method::POST, "/api/tokens", &first, Some(json!({"name": "x", "scope": "write"}))).await;
    assert_eq!(more.status, StatusCode::FORBIDDEN);

    // Expired.
    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    let expiring = tokens::create(&app.state, dora, "soon", TokenScope::Read, Some(soon)).await.unwrap();
    assert_eq!(works(expiring.token.clone()).await, StatusCode::OK);
    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(expiring.info.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(works(expiring.token).await, StatusCode::UNAUTHORIZED);

    // Deactivated user, then reactivated.
    assert_eq!(works(first.clone()).await, StatusCode::OK);
    db::users::set_active(&app.state.db, dora, false).await.unwrap();
    assert_eq!(works(first.clone()).await, StatusCode::UNAUTHORIZED);
    db::users::set_active(&app.state.db, dora, true).await.unwrap();
    assert_eq!(works(first).await, StatusCode::OK);
    // A key still cannot use the token routes.
    assert_eq!(app.get("/api/tokens").await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn an_admin_token_manages_projects_members_and_users_and_reads_the_audit_log(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = admin_id(&app).await;
    let t = token(&app, admin, TokenScope::Admin).await;
    let made = call(&app, Method::POST, "/api/projects", &t, Some(json!({"name": "Billing"}))).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let p = made.body["id"].as_i64().unwrap();
    assert_eq!(made.body["slug"], "billing");
    let dup = call(&app, Method::POST, "/api/projects", &t, Some(json!({"name": "billing"}))).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = call(&app, Method::POST, "/api/projects", &t, Some(json!({"title": "no name"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "a body of the wrong shape is the caller's mistake");

    let invited =
        call(&app, Method::POST, "/api/users", &t, Some(json!({"email": "eve@example.com", "role": "member"}))).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let base = app.state.settings.public_url.trim_end_matches('/');
    assert!(invited.body["invite_url"].as_str().unwrap().starts_with(&format!("{base}/invite/")));
    let eve = invited.body["id"].as_i64().unwrap();
    let put =
        call(&app, Method::PUT, &format!("/api/projects/{p}/members/{eve}"), &t, Some(json!({"role": "viewer"}))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let members = call(&app, Method::GET, &format!("/api/projects/{p}/members"), &t, None).await;
    let roles: Vec<(&str, &str)> = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("admin@example.com", "admin"), ("eve@example.com", "viewer")]);
    let patched =
        call(&app, Method::PATCH, &format!("/api/users/{eve}"), &t, Some(json!({"role": "admin", "active": false})))
            .await;
    assert_eq!((patched.body["role"].as_str(), patched.body["active"].as_bool()), (Some("admin"), Some(false)));
    let own = call(&app, Method::PATCH, &format!("/api/users/{admin}"), &t, Some(json!({"active": false}))).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/projects/{p}/members/{eve}"), &t, None).await.status,
        StatusCode::NO_CONTENT
    );
    let renamed =
        call(&app, Method::PATCH, &format!("/api/projects/{p}"), &t, Some(json!({"name": "Billing EU"}))).await;
    assert_eq!((renamed.body["name"].as_str(), renamed.body["slug"].as_str()), (Some("Billing EU"), Some("billing")));
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/projects/{p}"), &t, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&app, Method::DELETE, &format!("/api/projects/{p}"), &t, None).await.status, StatusCode::NOT_FOUND);

    let log = call(&app, Method::GET, &format!("/api/audit?project_id={p}"), &t, None).await;
    let actions: Vec<&str> =
        log.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["project_delete", "project_rename", "member_remove", "member_set", "project_create"],
        "newest first"
    );
    assert!(log.body["entries"].as_array().unwrap().iter().all(|e| e["actor"] == ADMIN_EMAIL));
    let invites = call(&app, Method::GET, "/api/audit?action=user_invite", &t, None).await;
    assert_eq!(invites.body["entries"].as_array().unwrap().len(), 1);
    let page = call(&app, Method::GET, "/api/audit?limit=2", &t, None).await;
    let before = page.body["next_before"].as_i64().expect("a full page says where the next starts");
    let next = call(&app, Method::GET, &format!("/api/audit?limit=2&before={before}"), &t, None).await;
    assert!(next.body["entries"].as_array().unwrap().iter().all(|e| e["id"].as_i64().unwrap() < before));
    let by = call(&app, Method::GET, "/api/audit?actor=ADMIN%40example.com&action=user_deactivate", &t, None).await;
    assert_eq!(by.body["entries"][0]["target"], format!("user {eve}"));
}

#[sqlx::test]
async fn the_admin_token_from_the_environment_works_as_an_admin_scope_token_of_the_first_admin(pool: PgPool) {
    const TOKEN: &str = "an automation token of at least 32 characters";
    let app = TestApp::spawn_with(pool.clone(), |s| {
        s.admin_email = Some("root@example.com".into());
        s.admin_password = Some(faultline::server::config::Secret::new(ADMIN_PASSWORD));
        s.admin_token = Some(faultline::server::config::Secret::new(TOKEN));
    })
    .await;
    let users = call(&app, Method::GET, "/api/users", TOKEN, None).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    assert_eq!(users.body["users"][0]["email"], "root@example.com");
    let scope: String = sqlx::query_scalar("SELECT scope FROM api_tokens").fetch_one(&app.state.db).await.unwrap();
    assert_eq!(scope, "admin");
    // Revoked by hand, it is made to work again at the next start, like FAULTLINE_API_KEY.
    sqlx::query("UPDATE api_tokens SET revoked_at = now()").execute(&app.state.db).await.unwrap();
    assert_eq!(call(&app, Method::GET, "/api/users", TOKEN, None).await.status, StatusCode::UNAUTHORIZED);
    faultline::server::startup::prepare(&app.state).await.unwrap();
    assert_eq!(call(&app, Method::GET, "/api/users", TOKEN, None).await.status, StatusCode::OK);

    let mut short = (*app.state.settings).clone();
    short.admin_token = Some(faultline::server::config::Secret::new("too short"));
    let state = faultline::server::state::AppState::with_pool(short, crate::helpers::leptos_options(), pool).unwrap();
    let refused = faultline::server::startup::prepare(&state).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("at least 32 characters")));
}
