//! Accounts: the first admin from the environment.

use crate::helpers::TestApp;
use faultline::model::InstanceRole;
use faultline::server::config::Secret;
use faultline::server::{db, startup};
use sqlx::PgPool;

#[sqlx::test]
async fn the_admin_from_the_environment_exists_after_every_start_with_that_password(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), |s| {
        s.admin_email = Some("Ops@Example.com".into());
        s.admin_password = Some(Secret::new("first password!"));
    })
    .await;
    let user = db::users::find_by_email(&app.state.db, "ops@example.com").await.unwrap().expect("admin created");
    assert_eq!((user.role(), user.active), (InstanceRole::Admin, true));
    let hash = user.password_hash.clone().unwrap();
    assert!(app.state.passwords.verify("first password!", Some(&hash)).await.unwrap());

    // The next start sets the password again (and keeps one account for the address).
    let restarted = TestApp::spawn_with(pool, |s| {
        s.admin_email = Some("ops@example.com".into());
        s.admin_password = Some(Secret::new("second password"));
    })
    .await;
    let again = db::users::find_by_email(&restarted.state.db, "OPS@example.com").await.unwrap().unwrap();
    assert_eq!(again.id, user.id);
    let hash = again.password_hash.unwrap();
    assert!(restarted.state.passwords.verify("second password", Some(&hash)).await.unwrap());
    assert!(!restarted.state.passwords.verify("first password!", Some(&hash)).await.unwrap());
}

#[sqlx::test]
async fn a_start_with_half_or_bad_admin_settings_stops_with_the_reason(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let cases: [(Option<&str>, Option<&str>, &str); 3] = [
        (Some("ops@example.com"), None, "set both"),
        (Some("not an address"), Some("long enough password"), "not an email address"),
        (Some("ops@example.com"), Some("short"), "at least 10 characters"),
    ];
    for (email, password, reason) in cases {
        let mut settings = (*app.state.settings).clone();
        settings.admin_email = email.map(str::to_owned);
        settings.admin_password = password.map(Secret::new);
        settings.spool_dir = None;
        let state = faultline::server::state::AppState::with_pool(
            settings,
            crate::helpers::leptos_options(),
            app.state.db.clone(),
        )
        .unwrap();
        let err = startup::prepare(&state).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(reason), "{email:?}/{password:?}: {err:?}");
    }
    assert!(db::users::find_by_email(&app.state.db, "ops@example.com").await.unwrap().is_none());
}
