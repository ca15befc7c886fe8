//! People on the instance: invitations by link (single use, the invitee chooses name and
//! password and is signed in), instance roles, deactivation (sessions end at once) and
//! reactivation, and password-reset links; only instance admins manage users.

use crate::helpers::{Answer, TestApp, session_cookie};
use axum::http::StatusCode;
use faultline::api::projects::ListProjects;
use faultline::api::users::{
    AcceptInvite, InviteUser, ListUsers, ResetLink, ResetPassword, SetUserActive, SetUserRole,
};
use faultline::model::{InstanceRole, encode_query_value as form};
use leptos::server_fn::ServerFn;
use sqlx::PgPool;

/// The token at the end of a link.
fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

async fn accept(app: &TestApp, token: &str, name: &str, password: &str) -> Answer {
    let body = format!("token={}&name={}&password={}", form(token), form(name), form(password));
    app.call_server_fn(AcceptInvite::PATH, None, &body).await
}

async fn actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(&app.state.db).await.unwrap()
}

#[sqlx::test]
async fn an_invitation_link_creates_the_account_once_and_signs_the_invitee_in(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let a = app.call_server_fn(InviteUser::PATH, Some(&admin), "email=Nia%40example.com&role=member").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let url = a.body.as_str().unwrap().to_owned();
    let base = app.state.settings.public_url.trim_end_matches('/');
    assert!(url.starts_with(&format!("{base}/invite/fli_")), "an absolute link on the public URL: {url}");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM account_links WHERE purpose = 'invite' AND token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(token_of(&url))
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(stored, 1, "only the token's hash is stored");
    // Before accepting, the invitee cannot sign in with any password.
    assert_eq!(app.sign_in("nia@example.com", "", "/").await.status, StatusCode::UNAUTHORIZED);
    let users = app.call_server_fn(ListUsers::PATH, Some(&admin), "").await;
    let nia = users.body.as_array().unwrap().iter().find(|u| u["email"] == "Nia@example.com").unwrap().clone();
    assert_eq!((nia["pending"].as_bool(), nia["role"].as_str()), (Some(true), Some("member")));

    // A bad password leaves the link usable.
    let short = accept(&app, token_of(&url), "Nia", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let accepted = accept(&app, token_of(&url), "Nia Long", "nia's own password").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let cookie = session_cookie(&accepted).expect("signed in at once");
    assert_eq!(app.call_server_fn(ListProjects::PATH, Some(&cookie), "").await.body, serde_json::json!([]));
    assert_eq!(app.sign_in("nia@example.com", "nia's own password", "/").await.status, StatusCode::OK);
    let again = accept(&app, token_of(&url), "Mallory", "another password").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "the link works once");

    let taken = app.call_server_fn(InviteUser::PATH, Some(&admin), "email=nia%40example.com&role=admin").await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "an address with an account is not invited again");
    let member = app.call_server_fn(InviteUser::PATH, Some(&cookie), "email=x%40example.com&role=admin").await;
    assert_eq!(member.status, StatusCode::FORBIDDEN, "only instance admins invite");
    assert_eq!(app.call_server_fn(ListUsers::PATH, Some(&cookie), "").await.status, StatusCode::FORBIDDEN);
    let done = actions(&app).await;
    assert!(done.contains(&"user_invite".to_owned()) && done.contains(&"invite_accepted".to_owned()), "{done:?}");
}

#[sqlx::test]
async fn a_new_invitation_replaces_the_open_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let first = app.call_server_fn(InviteUser::PATH, Some(&admin), "email=omar%40example.com&role=member").await;
    let second = app.call_server_fn(InviteUser::PATH, Some(&admin), "email=omar%40example.com&role=admin").await;
    assert_eq!(second.status, StatusCode::OK);
    let old = accept(&app, token_of(first.body.as_str().unwrap()), "Omar", "omar's password").await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY, "the first link stopped working");
    let new = accept(&app, token_of(second.body.as_str().unwrap()), "Omar", "omar's password").await;
    assert_eq!(new.status, StatusCode::OK);
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE email = 'omar@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(role, "admin", "with the role of the latest invitation");
}

#[sqlx::test]
async fn deactivating_a_user_ends_their_sessions_at_once_and_reactivating_lets_them_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let (pia, cookie) = app.user_session("pia@example.com", InstanceRole::Member).await;
    assert_eq!(app.call_server_fn(ListProjects::PATH, Some(&cookie), "").await.status, StatusCode::OK);
    let off = app.call_server_fn(SetUserActive::PATH, Some(&admin), &format!("user={pia}&active=false")).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(app.call_server_fn(ListProjects::PATH, Some(&cookie), "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in("pia@example.com", "a user password", "/").await.status, StatusCode::UNAUTHORIZED);
    let on = app.call_server_fn(SetUserActive::PATH, Some(&admin), &format!("user={pia}&active=true")).await;
    assert_eq!(on.status, StatusCode::OK);
    let back = app.sign_in("pia@example.com", "a user password", "/").await;
    assert_eq!(back.status, StatusCode::OK);

    // Promoted, she manages users; an admin cannot lock themselves out.
    let promoted = app.call_server_fn(SetUserRole::PATH, Some(&admin), &format!("user={pia}&role=admin")).await;
    assert_eq!(promoted.status, StatusCode::OK);
    let pia_cookie = session_cookie(&back).unwrap();
    assert_eq!(app.call_server_fn(ListUsers::PATH, Some(&pia_cookie), "").await.status, StatusCode::OK);
    let me: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'admin@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let own = app.call_server_fn(SetUserActive::PATH, Some(&admin), &format!("user={me}&active=false")).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    let own = app.call_server_fn(SetUserRole::PATH, Some(&admin), &format!("user={me}&role=member")).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = actions(&app).await;
    for action in ["user_deactivate", "user_reactivate", "user_role"] {
        assert!(done.contains(&action.to_owned()), "{action}: {done:?}");
    }
}

#[sqlx::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_the_other_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let admin = app.session().await;
    let (quinn, old_session) = app.user_session("quinn@example.com", InstanceRole::Member).await;
    let link = app.call_server_fn(ResetLink::PATH, Some(&admin), &format!("user={quinn}")).await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.body);
    let url = link.body.as_str().unwrap().to_owned();
    assert!(url.contains("/reset/flr_"), "{url}");
    let reset = |password: &str| format!("token={}&password={}", form(token_of(&url)), form(password));
    let done = app.call_server_fn(ResetPassword::PATH, None, &reset("quinn's new password")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(session_cookie(&done).is_some(), "signed in with the new password");
    assert_eq!(app.call_server_fn(ListProjects::PATH, Some(&old_session), "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in("quinn@example.com", "a user password", "/").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in("quinn@example.com", "quinn's new password", "/").await.status, StatusCode::OK);
    let again = app.call_server_fn(ResetPassword::PATH, None, &reset("yet another password")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "the link works once");
    assert!(actions(&app).await.contains(&"password_reset".to_owned()));
}
