//! The server matches its OpenAPI document: every documented operation, called as its happy path,
//! answers its documented success status with a body that validates against the documented schema.

use crate::helpers::{KEY, TestApp};
use axum::body::Body;
use axum::http::Method;
use faultline::server::rest::OPENAPI;
use serde_json::{Value, json};
use sqlx::PgPool;

/// Validates `v` against the subset of JSON Schema the document uses; returns what is wrong.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], v, at, problems);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            problems.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        problems.push(format!("{at}: {v} not in {allowed:?}"));
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if v.get(name).is_none() {
                problems.push(format!("{at}: missing {name}"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (schema.get("properties").and_then(Value::as_object), v.as_object()) {
        for (name, sub) in props {
            if let Some(value) = obj.get(name) {
                check(doc, sub, value, &format!("{at}.{name}"), problems);
            }
        }
        for name in obj.keys() {
            if !props.contains_key(name) {
                problems.push(format!("{at}: undocumented field {name}"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), problems);
        }
    }
}

#[sqlx::test]
async fn every_documented_operation_answers_as_documented(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc: Value = serde_json::from_str(OPENAPI).expect("the document is JSON");
    assert_eq!(app.request(Method::GET, "/api/openapi.json", None, None).await.body, doc);

    let id = app.post_error(json!({"message": "for the contract", "context": {"free": {"form": true}}})).await;
    app.post_error(json!({"message": "to delete"})).await;
    app.process().await;
    let errors = app.get("/api/errors").await.body;
    let issue_id = errors["errors"][0]["issue_id"].to_string();
    let delete_id = errors["errors"].as_array().unwrap().iter().find(|e| e["message"] == "to delete").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A personal token of an instance admin, for the routes only tokens may use; a second user,
    // a project and a token for the operations that change or delete them.
    app.session().await;
    let admin = faultline::server::db::users::find_by_email(&app.state.db, crate::helpers::ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap()
        .id;
    use faultline::model::TokenScope;
    use faultline::server::accounts::tokens;
    let bearer = tokens::create(&app.state, admin, "contract", TokenScope::Admin, None).await.unwrap().token;
    let doomed_token = tokens::create(&app.state, admin, "doomed", TokenScope::Read, None).await.unwrap().info.id;
    let (other_user, _) = app.user_session("contract-user@example.com", faultline::model::InstanceRole::Member).await;
    let doomed_project = app.other_project("doomed project", "doomed-project-key").await;

    // Alert channels and rules to change, test, list and delete, and a delivery to redeliver.
    use faultline::server::alerts::manage;
    let receiver = crate::receivers::Receiver::start(crate::receivers::Reply::new(200, "ok")).await;
    let slack =
        |name: &str| serde_json::from_value(json!({"kind": "slack", "name": name, "url": receiver.url})).unwrap();
    let channel = manage::create_channel(&app.state, app.project, slack("contract")).await.unwrap().channel.id;
    let doomed_channel = manage::create_channel(&app.state, app.project, slack("doomed")).await.unwrap().channel.id;
    let rule = |name: &str| {
        serde_json::from_value(json!({"name": name, "when": ["new_issue"], "channels": [channel]})).unwrap()
    };
    let rule_id = manage::create_rule(&app.state, app.project, rule("contract")).await.unwrap().id;
    let doomed_rule = manage::create_rule(&app.state, app.project, rule("doomed")).await.unwrap().id;
    manage::send_test(&app.state, app.project, channel, None).await.unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    let delivery =
        faultline::server::db::alerts::deliveries(&mut conn, app.project, channel, None, 1).await.unwrap()[0].id;
    drop(conn);

    let mut problems = Vec::new();
    let mut checked = 0;
    // Deletes last, so every other operation still finds what it names.
    let mut operations: Vec<(&String, &String, &Value)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().iter().map(move |(method, op)| (path, method, op)))
        .collect();
    operations.sort_by_key(|(_, method, _)| *method == "delete");
    {
        for (path, method, op) in operations {
            let project = if path == "/api/projects/{id}" && method == "delete" { doomed_project } else { app.project };
            let concrete = if path.starts_with("/api/errors/{id}") {
                let target = if method == "delete" { &delete_id } else { &id };
                path.replace("{id}", target)
            } else if path.starts_with("/api/projects/") {
                let doomed = method == "delete";
                path.replace("{id}", &project.to_string())
                    .replace("{user_id}", &other_user.to_string())
                    .replace("{cid}", &(if doomed { doomed_channel } else { channel }).to_string())
                    .replace("{rid}", &(if doomed { doomed_rule } else { rule_id }).to_string())
                    .replace("{did}", &delivery.to_string())
            } else if path.starts_with("/api/users/") {
                path.replace("{id}", &other_user.to_string())
            } else if path.starts_with("/api/tokens/") {
                path.replace("{id}", &doomed_token.to_string())
            } else {
                path.replace("{id}", &issue_id)
            };
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = match (method.as_str(), path.as_str()) {
                ("POST", "/api/errors") => Some(json!({"message": "contract post"})),
                ("POST", "/api/projects") => Some(json!({"name": "contract project"})),
                ("PATCH", "/api/projects/{id}") => Some(json!({"name": "contract renamed"})),
                ("PUT", "/api/projects/{id}/members/{user_id}") => Some(json!({"role": "viewer"})),
                ("POST", "/api/users") => Some(json!({"email": "contract-invite@example.com", "role": "member"})),
                ("PATCH", "/api/users/{id}") => Some(json!({"role": "member"})),
                ("POST", "/api/tokens") => Some(json!({"name": "contract made", "scope": "read"})),
                ("POST", "/api/projects/{id}/channels") => {
                    Some(json!({"kind": "webhook", "name": "contract hook", "url": receiver.url}))
                }
                ("PATCH", "/api/projects/{id}/channels/{cid}") => Some(json!({"name": "contract renamed"})),
                ("POST", "/api/projects/{id}/rules") => Some(
                    json!({"name": "contract made", "when": ["regression", {"events": 5, "minutes": 10}], "channels": [channel]}),
                ),
                ("PATCH", "/api/projects/{id}/rules/{rid}") => Some(json!({"cooldown_minutes": 5, "release": null})),
                ("PUT", "/api/projects/{id}/email-alerts") => Some(json!({"mode": "daily"})),
                ("PUT", "/api/projects/{id}/retention") => Some(json!({"days": 30})),
                _ => None,
            };
            let key_works = op["security"].as_array().is_some_and(|s| s.iter().any(|s| s.get("ApiKey").is_some()));
            let mut req = axum::http::Request::builder().method(method.clone()).uri(&concrete);
            req = if key_works {
                req.header("x-api-key", KEY)
            } else {
                req.header("authorization", format!("Bearer {bearer}"))
            };
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
            let answer = app.send(req.body(body).unwrap()).await;
            let status = answer.status.as_u16().to_string();
            // This is the happy path: the answer must be the operation's documented success.
            let success = op["responses"].as_object().unwrap().keys().filter(|k| k.starts_with('2')).min().cloned();
            if success.as_deref() != Some(status.as_str()) {
                problems.push(format!(
                    "{method} {path}: answered {status}, documented success is {success:?}: {}",
                    answer.body
                ));
                continue;
            }
            let documented = &op["responses"][&status];
            if let Some(schema) = documented.pointer("/content/application~1json/schema") {
                check(&doc, schema, &answer.body, "$", &mut problems);
            }
            checked += 1;

            // Every operation that names 401 really refuses a request without a credential.
            if op["responses"].get("401").is_some() {
                let a = app.request(method.clone(), &concrete, None, None).await;
                if a.status.as_u16() != 401 {
                    problems.push(format!("{method} {path} without a credential answered {}", a.status));
                }
                check(&doc, &json!({"$ref": "#/components/schemas/ApiError"}), &a.body, "$", &mut problems);
            }
        }
    }
    assert!(checked >= 41, "checked {checked} operations");
    assert!(problems.is_empty(), "{problems:#?}");
}
