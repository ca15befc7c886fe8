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

async fn admin(app: &TestApp) -> faultline::model::UserId {
    let hash = app.state.passwords.hash("a long enough password").await.unwrap();
    db::users::ensure_admin(&app.state.db, "admin@example.com", &hash).await.unwrap()
}

#[sqlx::test]
async fn a_session_lives_until_it_idles_out_or_reaches_its_lifetime(pool: PgPool) {
    use faultline::server::accounts::session;
    use std::time::Duration;
    let app = TestApp::spawn(pool).await;
    let user = admin(&app).await;
    let token = session::start(&app.state, user, Some("192.0.2.1"), Some("test")).await.unwrap();
    assert_ne!(
        token.expose(),
        session::start(&app.state, user, None, None).await.unwrap().expose(),
        "a new token at every sign-in"
    );
    let found = session::user_of(&app.state, token.expose()).await.unwrap().expect("live");
    assert_eq!((found.user, found.role), (user, InstanceRole::Admin));
    assert!(session::user_of(&app.state, "fls_not-a-token").await.unwrap().is_none());
    // The server keeps only the token's hash.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM sessions LIMIT 1").fetch_one(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(token.expose()));

    // Used every six days, it stays alive past the idle timeout of seven…
    let day = Duration::from_secs(86_400);
    for _ in 0..4 {
        app.state.clock.advance(6 * day);
        assert!(session::user_of(&app.state, token.expose()).await.unwrap().is_some());
    }
    // …until its absolute lifetime of 30 days from the sign-in.
    app.state.clock.advance(6 * day + Duration::from_secs(1));
    assert!(session::user_of(&app.state, token.expose()).await.unwrap().is_none(), "past 30 days");

    // Unused for more than seven days, a fresh one ends too.
    let idle = session::start(&app.state, user, None, None).await.unwrap();
    app.state.clock.advance(7 * day + Duration::from_secs(61));
    assert!(session::user_of(&app.state, idle.expose()).await.unwrap().is_none(), "idle for 7 days");
}

#[sqlx::test]
async fn ending_sessions_works_at_once_and_a_deactivated_user_has_none(pool: PgPool) {
    use faultline::server::accounts::session;
    let app = TestApp::spawn(pool).await;
    let user = admin(&app).await;
    let (a, b, c) = (
        session::start(&app.state, user, None, None).await.unwrap(),
        session::start(&app.state, user, None, None).await.unwrap(),
        session::start(&app.state, user, None, None).await.unwrap(),
    );
    assert!(session::end(&app.state, a.expose()).await.unwrap());
    assert!(session::user_of(&app.state, a.expose()).await.unwrap().is_none(), "signed out");
    // A password change keeps the session making it and ends the others.
    assert_eq!(session::end_others(&app.state, user, Some(b.expose())).await.unwrap(), 1);
    assert!(session::user_of(&app.state, b.expose()).await.unwrap().is_some());
    assert!(session::user_of(&app.state, c.expose()).await.unwrap().is_none());
    sqlx::query("UPDATE users SET active = false WHERE id = $1").bind(user).execute(&app.state.db).await.unwrap();
    assert!(session::user_of(&app.state, b.expose()).await.unwrap().is_none(), "deactivated");
}

#[sqlx::test]
async fn five_failures_for_one_email_or_twenty_from_one_address_block_sign_in_for_the_window(pool: PgPool) {
    use faultline::server::accounts::throttle;
    let app = TestApp::spawn(pool).await;
    let s = &app.state;
    for _ in 0..throttle::PER_EMAIL - 1 {
        throttle::failed(s, "Victim@example.com", "198.51.100.1").await.unwrap();
    }
    assert_eq!(throttle::blocked(s, "victim@example.com", "198.51.100.9").await.unwrap(), None, "4 failures");
    throttle::failed(s, "victim@example.com", "198.51.100.2").await.unwrap();
    // The fifth failure blocks the account from every address, whatever the case of the email.
    let wait = throttle::blocked(s, "VICTIM@example.com", "203.0.113.7").await.unwrap().expect("blocked");
    assert!((1..=throttle::WINDOW_SECS).contains(&wait), "{wait}");
    assert_eq!(throttle::blocked(s, "other@example.com", "203.0.113.7").await.unwrap(), None);

    // One address trying many accounts is blocked after twenty failures.
    for n in 0..throttle::PER_ADDRESS {
        assert_eq!(throttle::blocked(s, &format!("u{n}@example.com"), "192.0.2.50").await.unwrap(), None);
        throttle::failed(s, &format!("u{n}@example.com"), "192.0.2.50").await.unwrap();
    }
    assert!(throttle::blocked(s, "fresh@example.com", "192.0.2.50").await.unwrap().is_some());
    assert_eq!(throttle::blocked(s, "fresh@example.com", "192.0.2.51").await.unwrap(), None);

    // A success clears the account's count.
    throttle::succeeded(s, "victim@example.com", "198.51.100.1").await.unwrap();
    assert_eq!(throttle::blocked(s, "victim@example.com", "198.51.100.1").await.unwrap(), None);
}
