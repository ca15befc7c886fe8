//! The dashboard's server functions, called as the browser's requests call them (with the state
//! in the Leptos context): their reads go through the answer cache, which every change clears.

use crate::helpers::TestApp;
use faultline::api::issues::{get_stats, list_issues};
use leptos::prelude::{Owner, provide_context};
use serde_json::json;
use sqlx::PgPool;

/// A fresh Leptos context with the app's state and a signed-in admin's request, as a server
/// function call has it.
fn in_context(app: &TestApp) -> Owner {
    use faultline::model::{InstanceRole, UserId};
    use faultline::server::accounts::guard::SignedIn;
    use faultline::server::db::sessions::SessionUser;
    let owner = Owner::new();
    owner.set();
    provide_context(app.state.clone());
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    let user = SessionUser {
        user: UserId::new(1),
        email: "a@example.com".into(),
        name: String::new(),
        role: InstanceRole::Admin,
    };
    parts.extensions.insert(SignedIn { user, token: "fls_test".into() });
    provide_context(parts);
    owner
}

#[sqlx::test]
async fn dashboard_reads_come_from_the_cache_until_the_project_changes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.post_error(json!({"message": "first"})).await;
    app.process().await;
    let _owner = in_context(&app);
    let query = "status=all".to_owned();
    assert_eq!(list_issues(query.clone()).await.unwrap().total, 1);
    assert_eq!(get_stats(query.clone()).await.unwrap().total, 1);

    // A row written behind the server's back (no change announced) is not seen: the answers
    // are the cached ones, not a new scan.
    sqlx::query(
        "INSERT INTO issues (project_id, fingerprint, title, culprit, level, first_seen, last_seen, event_count)
         VALUES ($1, 'behind', 'behind the back', '', 'error', now(), now(), 1)",
    )
    .bind(app.project.get())
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(list_issues(query.clone()).await.unwrap().total, 1, "served from the cache");

    // A stored batch clears the project's answers: the next read sees everything.
    app.post_error(json!({"message": "second"})).await;
    app.process().await;
    assert_eq!(list_issues(query.clone()).await.unwrap().total, 3);
    assert_eq!(get_stats(query).await.unwrap().total, 2, "stats count stored errors");
}
