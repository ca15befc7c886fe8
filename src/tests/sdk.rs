//! Real Sentry SDKs, configured only with faultline's DSN: sentry-python (PyPI), @sentry/node
//! (npm) and the Rust `sentry` crate. (@sentry/browser runs in Chromium: end2end/tests.)

use crate::helpers::TestApp;
use serde_json::Value;
use sqlx::PgPool;
use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs an SDK script to completion; panics with its output if it fails.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root().join("end2end"))
        .output()
        .unwrap_or_else(|e| panic!("{program} could not start ({e}); run `make test`, which installs the SDKs"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find<'a>(errors: &'a [Value], pred: impl Fn(&Value) -> bool, what: &str) -> Vec<&'a Value> {
    let found: Vec<&Value> = errors.iter().filter(|e| pred(e)).collect();
    assert!(
        !found.is_empty(),
        "no stored error is {what}; stored: {:#?}",
        errors.iter().map(|e| &e["message"]).collect::<Vec<_>>()
    );
    found
}

fn functions(e: &Value) -> Vec<String> {
    e["context"]["exception"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|ex| ex["stacktrace"]["frames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["function"].as_str().map(str::to_owned))
        .collect()
}

#[sqlx::test]
async fn sentry_python_errors_messages_and_logs_arrive_grouped(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let base = app.serve().await;
    let dsn = app.dsn(&base).await;
    let python = std::env::var("FAULTLINE_SDK_PYTHON").unwrap_or_else(|_| "python3".into());
    tokio::task::spawn_blocking(move || run(&python, &["sdk/python_app.py", &dsn])).await.unwrap();
    let errors = app.wait_for_errors(5).await;
    assert_eq!(errors.len(), 5);

    let key_errors = find(&errors, |e| e["message"].as_str().is_some_and(|m| m.starts_with("KeyError")), "a KeyError");
    assert_eq!(key_errors.len(), 2);
    assert_eq!(key_errors[0]["issue_id"], key_errors[1]["issue_id"], "the same failure twice is one issue");
    let e = key_errors[0];
    assert_eq!(e["level"], "error");
    assert_eq!(e["source"], "backend");
    assert_eq!(e["platform"], "python");
    assert_eq!(e["environment"], "staging");
    assert_eq!(e["release"], "shop@2.3.4");
    assert_eq!(e["context"]["tags"]["region"], "eu-west");
    assert_eq!(e["context"]["user"]["id"], "user-42");
    assert!(e["context"]["breadcrumbs"].as_array().unwrap().iter().any(|b| b["message"] == "added sku-17"));
    let fns = functions(e);
    assert!(fns.ends_with(&["checkout".to_owned(), "price_of".to_owned()]), "{fns:?}");
    let frames = e["context"]["exception"]["values"][0]["stacktrace"]["frames"].as_array().unwrap();
    let price_of = frames.iter().find(|f| f["function"] == "price_of").unwrap();
    assert!(
        price_of["vars"]["discount"].is_string() || price_of["vars"]["discount"].is_number(),
        "local variables kept"
    );
    assert!(e["stack_trace"].as_str().unwrap().contains("price_of"));

    let zero = find(
        &errors,
        |e| e["message"].as_str().is_some_and(|m| m.starts_with("ZeroDivisionError")),
        "a ZeroDivisionError",
    );
    assert_ne!(zero[0]["issue_id"], e["issue_id"], "a different failure is another issue");
    let message = find(&errors, |e| e["message"] == "inventory sync finished with warnings", "the message");
    assert_eq!(message[0]["level"], "warning");
    let logged = find(&errors, |e| e["message"] == "payment pay-991 declined", "the logged error");
    assert_eq!(logged[0]["level"], "error");
    assert_eq!(logged[0]["context"]["logentry"]["message"], "payment %s declined");
}

#[sqlx::test]
async fn sentry_node_errors_messages_and_large_payloads_arrive_grouped(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let base = app.serve().await;
    let dsn = app.dsn(&base).await;
    tokio::task::spawn_blocking(move || run("node", &["sdk/node_app.mjs", &dsn])).await.unwrap();
    let errors = app.wait_for_errors(5).await;
    assert_eq!(errors.len(), 5);

    let type_errors =
        find(&errors, |e| e["message"].as_str().is_some_and(|m| m.starts_with("TypeError")), "a TypeError");
    assert_eq!(type_errors.len(), 2);
    assert_eq!(type_errors[0]["issue_id"], type_errors[1]["issue_id"]);
    let e = type_errors[0];
    assert_eq!(e["source"], "backend");
    assert_eq!(e["platform"], "node");
    assert_eq!(e["environment"], "production");
    assert_eq!(e["release"], "api@5.0.1");
    assert_eq!(e["context"]["tags"]["service"], "billing");
    assert_eq!(e["context"]["user"]["id"], "node-user-7");
    let fns = functions(e);
    assert!(fns.iter().any(|f| f == "renderInvoice") && fns.iter().any(|f| f == "handleRequest"), "{fns:?}");
    let range = find(&errors, |e| e["message"].as_str().is_some_and(|m| m.starts_with("RangeError")), "a RangeError");
    assert_ne!(range[0]["issue_id"], e["issue_id"]);
    let message = find(&errors, |e| e["message"] == "nightly export took too long", "the message");
    assert_eq!(message[0]["level"], "warning");
    let large = find(&errors, |e| e["message"] == "Error: large report failed to upload", "the large event");
    assert_eq!(large[0]["context"]["extra"]["report"].as_str().map(str::len), Some(40 * 1024));
}

#[derive(Debug, thiserror::Error)]
#[error("config value {key:?} is not a number")]
struct ConfigError {
    key: String,
}

fn load_config(key: &str) -> Result<u32, ConfigError> {
    Err(ConfigError { key: key.into() })
}

#[sqlx::test]
async fn the_rust_sentry_crate_sends_errors_and_panics(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let base = app.serve().await;
    let dsn = app.dsn(&base).await;
    tokio::task::spawn_blocking(move || {
        use std::sync::Arc;
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn.parse().expect("our DSN parses with the Rust SDK"));
        options.release = Some("rusty@0.9.0".into());
        options.environment = Some("ci".into());
        let options = sentry::apply_defaults(options);
        let client = Arc::new(sentry::Client::from(options));
        let hub = Arc::new(sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default())));
        sentry::Hub::run(hub.clone(), || {
            sentry::configure_scope(|scope| {
                scope.set_tag("component", "config");
                scope.set_user(Some(sentry::User { id: Some("rust-user-1".into()), ..Default::default() }));
            });
            for key in ["port", "port"] {
                if let Err(e) = load_config(key) {
                    sentry::capture_error(&e);
                }
            }
            sentry::capture_error(&std::io::Error::other("disk unplugged"));
        });
        let panicking = hub.clone();
        let joined =
            std::thread::spawn(move || sentry::Hub::run(panicking, || panic!("index out of range in the parser")))
                .join();
        assert!(joined.is_err());
        assert!(client.flush(Some(std::time::Duration::from_secs(10))));
    })
    .await
    .unwrap();
    let errors = app.wait_for_errors(4).await;
    assert_eq!(errors.len(), 4);
    let config =
        find(&errors, |e| e["message"].as_str().is_some_and(|m| m.contains("is not a number")), "the config error");
    assert_eq!(config.len(), 2);
    assert_eq!(config[0]["issue_id"], config[1]["issue_id"]);
    let e = config[0];
    assert_eq!(e["level"], "error");
    assert_eq!(e["environment"], "ci");
    assert_eq!(e["release"], "rusty@0.9.0");
    assert_eq!(e["context"]["tags"]["component"], "config");
    assert_eq!(e["context"]["user"]["id"], "rust-user-1");
    let io = find(&errors, |e| e["message"].as_str().is_some_and(|m| m.contains("disk unplugged")), "the io error");
    assert_ne!(io[0]["issue_id"], e["issue_id"]);
    let panic = find(
        &errors,
        |e| e["message"].as_str().is_some_and(|m| m.contains("index out of range in the parser")),
        "the panic",
    );
    assert_eq!(panic[0]["level"], "fatal");
    let fns = functions(panic[0]);
    assert!(fns.iter().any(|f| f.contains("the_rust_sentry_crate_sends_errors_and_panics")), "{fns:?}");
}
