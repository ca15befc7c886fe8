//! Several projects and the roles in them: who sees which project (another project's data
//! answers 404, like data that does not exist), what viewers, members and admins may do (a
//! forbidden call answers 403 and changes nothing), creating, renaming and deleting projects,
//! members, the All projects list, and live updates only for those who see the project.

use crate::helpers::{ADMIN_EMAIL, Answer, KEY, Live, TestApp};
use axum::http::StatusCode;
use faultline::api::issues::{DeleteIssue, GetIssue, GetStats, ListIssues, SetIssueStatus};
use faultline::api::projects::{
    CreateApiKey, CreateProject, DeleteProject, GetProjectSettings, ListProjects, RemoveMember, RenameProject,
    RotateDsnKey, SetMember,
};
use faultline::model::{InstanceRole, encode_query_value as form};
use leptos::server_fn::ServerFn;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// A project the admin created through the dashboard: its id, slug and first API key.
struct Created {
    id: i64,
    slug: String,
    api_key: String,
}

async fn create_project(app: &TestApp, cookie: &str, name: &str) -> Created {
    let a = app.call_server_fn(CreateProject::PATH, Some(cookie), &format!("name={}", form(name))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    Created {
        id: a.body["project"]["id"].as_i64().unwrap(),
        slug: a.body["project"]["slug"].as_str().unwrap().to_owned(),
        api_key: a.body["api_key"].as_str().unwrap().to_owned(),
    }
}

async fn set_member(app: &TestApp, cookie: &str, project: i64, email: &str, role: &str) -> Answer {
    let body = format!("project={project}&email={}&role={role}", form(email));
    app.call_server_fn(SetMember::PATH, Some(cookie), &body).await
}

/// Stores one error through `key`'s project; answers its issue's id.
async fn issue_in(app: &TestApp, key: &str, message: &str) -> i64 {
    let id = app.post_error_as(key, json!({"message": message})).await;
    app.process().await;
    app.request(axum::http::Method::GET, &format!("/api/errors/{id}"), Some(key), None).await.body["issue_id"]
        .as_i64()
        .unwrap()
}

async fn issue_status(app: &TestApp, issue: i64) -> String {
    sqlx::query_scalar("SELECT status FROM issues WHERE id = $1").bind(issue).fetch_one(&app.state.db).await.unwrap()
}

#[sqlx::test]
async fn a_user_sees_only_their_projects_and_another_projects_data_answers_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let web = create_project(&app, &admin, "Web shop").await;
    assert_eq!(web.slug, "web-shop");
    let (bob_id, bob) = app.user_session("bob@example.com", InstanceRole::Member).await;
    assert_eq!(set_member(&app, &admin, web.id, "bob@example.com", "viewer").await.status, StatusCode::OK);
    let hidden = issue_in(&app, KEY, "in the default project").await;
    let shown = issue_in(&app, &web.api_key, "in the web shop").await;

    let listed = app.call_server_fn(ListProjects::PATH, Some(&bob), "").await;
    let slugs: Vec<&str> = listed.body.as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["web-shop"]);
    assert_eq!(listed.body[0]["role"], "viewer");
    let issues = app.call_server_fn(ListIssues::PATH, Some(&bob), "query=status%3Dall").await;
    let ids: Vec<i64> =
        issues.body["issues"].as_array().unwrap().iter().map(|i| i["issue"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [shown], "{}", issues.body);
    let stats = app.call_server_fn(GetStats::PATH, Some(&bob), "query=status%3Dall").await;
    assert_eq!(stats.body["total"], 1, "totals count only the projects bob sees");

    // Another project's data, by any way of asking, answers exactly like data that does not exist.
    let missing = app.call_server_fn(GetIssue::PATH, Some(&bob), "id=999999").await;
    let other = app.call_server_fn(GetIssue::PATH, Some(&bob), &format!("id={hidden}")).await;
    assert_eq!((other.status, &other.body), (missing.status, &missing.body));
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    for (path, body) in [
        (ListIssues::PATH, "query=project%3Ddefault".to_owned()),
        (GetProjectSettings::PATH, "project=default".to_owned()),
        (SetIssueStatus::PATH, format!("id={hidden}&status=resolved")),
        (DeleteIssue::PATH, format!("id={hidden}")),
        (RotateDsnKey::PATH, format!("project={}", app.project)),
    ] {
        let a = app.call_server_fn(path, Some(&bob), &body).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
    }
    assert_eq!(issue_status(&app, hidden).await, "unresolved");
    let page = app.call_server_fn(GetIssue::PATH, Some(&bob), &format!("id={shown}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        (page.body["project"]["slug"].as_str(), page.body["project"]["role"].as_str()),
        (Some("web-shop"), Some("viewer"))
    );

    // Removed from the project, bob sees nothing of it any more.
    let removed =
        app.call_server_fn(RemoveMember::PATH, Some(&admin), &format!("project={}&user={bob_id}", web.id)).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(
        app.call_server_fn(GetIssue::PATH, Some(&bob), &format!("id={shown}")).await.status,
        StatusCode::NOT_FOUND
    );
    let none = app.call_server_fn(ListIssues::PATH, Some(&bob), "query=status%3Dall").await;
    assert_eq!((none.body["total"].as_i64(), none.body["projects"].as_array().map(Vec::len)), (Some(0), Some(0)));
}

#[sqlx::test]
async fn viewers_cannot_triage_or_manage_members_can_triage_and_admins_manage(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let (_, carol) = app.user_session("carol@example.com", InstanceRole::Member).await;
    let project = app.project.get();
    assert_eq!(set_member(&app, &admin, project, "carol@example.com", "viewer").await.status, StatusCode::OK);
    let issue = issue_in(&app, KEY, "to triage").await;

    let forbidden = [
        (SetIssueStatus::PATH, format!("id={issue}&status=resolved")),
        (DeleteIssue::PATH, format!("id={issue}")),
        (CreateApiKey::PATH, format!("project={project}&name=mine")),
        (RotateDsnKey::PATH, format!("project={project}")),
        (RenameProject::PATH, format!("project={project}&name=Mine")),
        (DeleteProject::PATH, format!("project={project}&confirm=default")),
    ];
    for (path, body) in &forbidden {
        let a = app.call_server_fn(path, Some(&carol), body).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}: {}", a.body);
        assert_eq!(a.error_code(), "forbidden");
    }
    let before = app.public_key().await;
    assert_eq!(issue_status(&app, issue).await, "unresolved", "a refused call changes nothing");
    assert_eq!(app.public_key().await, before);
    let settings = app.call_server_fn(GetProjectSettings::PATH, Some(&carol), "project=default").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert_eq!(settings.body["role"], "viewer");
    assert_eq!(settings.body["keys"], json!([]), "API keys are listed to admins only");
    assert!(settings.body["dsn"].as_str().unwrap().contains(&before));

    // As a member, carol triages; project management stays refused.
    assert_eq!(set_member(&app, &admin, project, "carol@example.com", "member").await.status, StatusCode::OK);
    let a = app.call_server_fn(SetIssueStatus::PATH, Some(&carol), &format!("id={issue}&status=resolved")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(issue_status(&app, issue).await, "resolved");
    for (path, body) in &forbidden[2..] {
        assert_eq!(app.call_server_fn(path, Some(&carol), body).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    // As a project admin, she manages it.
    assert_eq!(set_member(&app, &admin, project, "carol@example.com", "admin").await.status, StatusCode::OK);
    let a = app.call_server_fn(CreateApiKey::PATH, Some(&carol), &format!("project={project}&name=hers")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let members = app.call_server_fn(GetProjectSettings::PATH, Some(&carol), "").await.body["members"].clone();
    assert_eq!(members[0]["email"], "carol@example.com");
    assert_eq!(members[0]["role"], "admin");
}

#[sqlx::test]
async fn projects_are_created_renamed_and_deleted_with_their_data_keys_and_audit_entries(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let (dave_id, dave) = app.user_session("dave@example.com", InstanceRole::Member).await;
    // Any user may create a project; they become its admin.
    let mobile = create_project(&app, &dave, "Mobile app").await;
    let members = app.call_server_fn(GetProjectSettings::PATH, Some(&dave), "project=mobile-app").await;
    assert_eq!(members.body["members"][0]["user"], dave_id.get());
    assert_eq!(members.body["members"][0]["role"], "admin");
    let again = app.call_server_fn(CreateProject::PATH, Some(&admin), "name=mobile+APP").await;
    assert_eq!((again.status, again.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
    let blank = app.call_server_fn(CreateProject::PATH, Some(&admin), "name=+++").await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another name with the same slug gets the next free one.
    assert_eq!(create_project(&app, &admin, "Mobile-App!").await.slug, "mobile-app-2");

    let unknown = set_member(&app, &dave, mobile.id, "nobody@example.com", "viewer").await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
    let renamed =
        app.call_server_fn(RenameProject::PATH, Some(&dave), &format!("project={}&name=Mobile+apps", mobile.id)).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let settings = app.call_server_fn(GetProjectSettings::PATH, Some(&dave), "project=mobile-app").await;
    assert_eq!(
        (settings.body["name"].as_str(), settings.body["slug"].as_str()),
        (Some("Mobile apps"), Some("mobile-app"))
    );

    let issue = issue_in(&app, &mobile.api_key, "doomed").await;
    let dsn_key: String = sqlx::query_scalar("SELECT public_key FROM projects WHERE id = $1")
        .bind(mobile.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let wrong =
        app.call_server_fn(DeleteProject::PATH, Some(&dave), &format!("project={}&confirm=Mobile", mobile.id)).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "the name must be typed to delete");
    assert_eq!(issue_status(&app, issue).await, "unresolved");
    let deleted = app
        .call_server_fn(DeleteProject::PATH, Some(&dave), &format!("project={}&confirm=Mobile+apps", mobile.id))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM issues WHERE project_id = $1")
        .bind(mobile.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "its issues and errors go with it");
    let post = app.post_raw(Some(&mobile.api_key), json!({"message": "after"}).to_string()).await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED, "its API key stops working");
    let envelope = app
        .request(
            axum::http::Method::POST,
            &format!("/api/{}/store/?sentry_key={dsn_key}", mobile.id),
            None,
            Some(json!({"message": "after"}).to_string().into()),
        )
        .await;
    assert!(envelope.status.is_client_error(), "its DSN stops working: {}", envelope.status);

    let actions: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT actor, action, project_id FROM audit_log WHERE action LIKE 'project_%' OR action LIKE 'member_%' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let dave_did: Vec<&str> = actions.iter().filter(|a| a.0 == "dave@example.com").map(|a| a.1.as_str()).collect();
    assert_eq!(dave_did, ["project_create", "project_rename", "project_delete"], "{actions:?}");
    assert!(actions.iter().any(|a| a.0 == ADMIN_EMAIL && a.1 == "project_create"));
}

#[sqlx::test]
async fn the_all_projects_list_covers_every_visible_project_and_a_project_filter_narrows_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let api = create_project(&app, &admin, "API").await;
    let in_default = issue_in(&app, KEY, "default trouble").await;
    let in_api = issue_in(&app, &api.api_key, "api trouble").await;
    let all = app.call_server_fn(ListIssues::PATH, Some(&admin), "query=").await;
    let rows: Vec<(i64, i64)> = all.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["issue"]["id"].as_i64().unwrap(), i["issue"]["project_id"].as_i64().unwrap()))
        .collect();
    assert_eq!(rows, [(in_api, api.id), (in_default, app.project.get())], "newest first, each with its project");
    assert_eq!(all.body["project"], json!(null));
    assert_eq!(all.body["projects"].as_array().unwrap().len(), 2);
    let stats = app.call_server_fn(GetStats::PATH, Some(&admin), "query=").await;
    assert_eq!(stats.body["total"], 2);

    let one = app.call_server_fn(ListIssues::PATH, Some(&admin), "query=project%3Dapi").await;
    assert_eq!(one.body["total"], 1);
    assert_eq!(one.body["issues"][0]["issue"]["id"], in_api);
    assert_eq!(one.body["project"], api.id);
    let stats = app.call_server_fn(GetStats::PATH, Some(&admin), "query=project%3Dapi").await;
    assert_eq!(stats.body["total"], 1);
    // A new error in one project is seen in the All projects list at once (its cache is stale).
    issue_in(&app, KEY, "another default trouble").await;
    let all = app.call_server_fn(ListIssues::PATH, Some(&admin), "query=").await;
    assert_eq!(all.body["total"], 3);
}

#[sqlx::test]
async fn live_updates_reach_only_users_who_see_the_project(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (stop, hub) = app.start_live_hub();
    let base = app.serve().await;
    let admin = app.session().await;
    let web = create_project(&app, &admin, "Web").await;
    let (_, erin) = app.user_session("erin@example.com", InstanceRole::Member).await;
    assert_eq!(set_member(&app, &admin, web.id, "erin@example.com", "viewer").await.status, StatusCode::OK);
    let mut everything = Live::open(&base, &admin).await;
    let mut web_only = Live::open(&base, &erin).await;

    // The hub subscribes asynchronously: send until an update of the default project comes through.
    let mut hidden = String::new();
    for _ in 0..20 {
        hidden = app.post_error(json!({"message": "not for erin"})).await;
        app.process().await;
        if everything.read_until(&hidden, Duration::from_millis(500)).await {
            break;
        }
    }
    assert!(everything.received.contains(&hidden), "the admin sees every project: {}", everything.received);
    let shown = app.post_error_as(&web.api_key, json!({"message": "for erin"})).await;
    app.process().await;
    assert!(web_only.read_until(&shown, Duration::from_secs(10)).await, "{}", web_only.received);
    assert!(!web_only.received.contains(&hidden), "updates come in order, so the other one was held back");
    stop.send(true).unwrap();
    hub.await.unwrap();
}
