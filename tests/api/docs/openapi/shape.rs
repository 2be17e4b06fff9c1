//! The generated OpenAPI document and configuration reference, the docs pages, the
//! README's walk-through, and the health check.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The committed `openapi/openapi.json` must be what the code generates. On a mismatch
/// the file is rewritten and the test fails: run `cargo test` again and commit the file.
#[test]
fn the_committed_openapi_document_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let generated = tasklane::api::spec_json();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        std::fs::write(&path, &generated).expect("write openapi.json");
        panic!(
            "openapi/openapi.json was stale and has been regenerated; \
             run `cargo run -- openapi --out openapi/openapi.json` (or `just openapi`) and commit it"
        );
    }
}

/// The committed `docs/configuration.md` must be what the command-line definition
/// renders. On a mismatch the file is rewritten and the test fails, as for openapi.json.
#[test]
fn the_committed_configuration_reference_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let generated = tasklane::config::reference::markdown();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        std::fs::write(&path, &generated).expect("write configuration.md");
        panic!(
            "docs/configuration.md was stale and has been regenerated; \
             run `{}` (or `just docs`) and commit it",
            tasklane::config::reference::REGENERATE
        );
    }
}

/// `tasklane docs config` prints the page whatever the environment holds: secrets set in
/// `TASKLANE_*` variables never reach it, and neither do other values given there.
#[tokio::test]
async fn the_configuration_reference_shows_no_value_from_the_environment() {
    let secrets = [
        (
            "TASKLANE_JWT_SECRET",
            "jwt-secret-that-must-not-leak-0123456789",
        ),
        (
            "TASKLANE_DATABASE_URL",
            "postgres://u:db-password-must-not-leak@h/db",
        ),
        (
            "TASKLANE_REDIS_URL",
            "redis://:redis-password-must-not-leak@h:6379",
        ),
        ("TASKLANE_BIND", "127.0.0.9:9999"),
    ];
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .args(["docs", "config"])
        .envs(secrets)
        .output()
        .await
        .expect("run tasklane docs config");
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    for (name, value) in secrets {
        assert!(!page.contains(value), "{name}'s value is on the page");
    }
    assert!(!page.contains("must-not-leak"), "a secret is on the page");
    assert_eq!(page, tasklane::config::reference::markdown());
}

#[tokio::test]
async fn the_document_is_served_where_clients_look_for_it() {
    let app = spawn_app().await;
    let expected = tasklane::api::spec();
    for path in [
        "/openapi.json",
        "/swagger/?format=openapi",
        "/swagger?format=openapi",
        "/redoc/?format=openapi",
    ] {
        let r = crate::helpers::read(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert_eq!(r.text, expected, "{path}");
    }
    let spec = app
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await
        .json();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    for op in [
        "register",
        "obtain_token",
        "refresh_token",
        "revoke_token",
        "users_me",
        "list_tasks",
        "create_task",
        "get_task",
        "update_task",
        "partial_update_task",
        "delete_task",
    ] {
        assert!(
            spec.to_string()
                .contains(&format!("\"operationId\":\"{op}\"")),
            "{op}"
        );
    }
}

#[tokio::test]
async fn swagger_and_redoc_pages_are_self_contained_html() {
    let app = spawn_app().await;
    for path in ["/swagger/", "/swagger", "/redoc/"] {
        let r = crate::helpers::read(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("default-src 'self'")
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        for external in ["src=\"http", "<link href=\"http"] {
            assert!(
                !r.text.contains(external),
                "{path} loads something from the network"
            );
        }
    }
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let app = spawn_app().await;
    let r = crate::helpers::read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["database"], "ok");
}

#[tokio::test]
async fn metrics_are_off_by_default_and_count_requests_by_route_when_on() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let app = spawn_app_with(|a| a.metrics = true).await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Counted task").await;
    app.get(&format!("/api/tasks/{}/", t["id"]), &token).await;
    let _ws = app.ws(&token, None).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"tasklane_http_requests_total{method="GET",route="/api/tasks/{id}",status="200"} 1"#,
        r#"tasklane_http_requests_total{method="POST",route="/api/tasks",status="201"} 1"#,
        r#"tasklane_open_streams{kind="websocket"} 1"#,
        "tasklane_events_published_total 1",
        "tasklane_redis_connected -1",
        "tasklane_http_request_duration_seconds_bucket",
        r#"tasklane_db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

/// The README's walk-through, run as written (but the stream, which waits for Ctrl-C)
/// against a live server: every command must succeed.
#[tokio::test]
async fn the_readmes_walk_through_runs() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("## A walk-through with curl")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("\n```").next())
        .expect("the walk-through's shell block");
    let script: String = section
        .lines()
        .filter(|l| !l.starts_with("curl -N"))
        .map(|l| {
            if l.starts_with("B=") {
                String::new()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("B", format!("http://{}", app.addr))
        .current_dir(dir.path())
        .output()
        .await
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""username":"alice""#), "{stdout}");
    assert!(stdout.contains(r#""title":"Write report""#), "{stdout}");
    assert!(stdout.contains("204"), "{stdout}");
    // The API token worked for every task call: the task was made and deleted.
    assert_eq!(app.task_count(&login_access(&app).await).await, 0);
}

async fn login_access(app: &TestApp) -> String {
    let r = app.login("alice", "correct-horse-battery").await;
    r.json()["access"].as_str().unwrap().to_owned()
}

/// The generated document, parsed.
fn spec() -> Value {
    serde_json::from_str(&tasklane::api::spec_json()).expect("the document is JSON")
}

/// Every (path, method, status, response) of the document.
fn responses(spec: &Value) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                out.push((
                    path.clone(),
                    method.clone(),
                    status.clone(),
                    response.clone(),
                ));
            }
        }
    }
    out
}

/// A schema of `components.schemas`.
fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    let s = &spec["components"]["schemas"][name];
    assert!(s.is_object(), "no schema {name}");
    s
}

/// A property's schema, following a `$ref` (to an enum, say) once.
fn property<'a>(spec: &'a Value, object: &str, name: &str) -> &'a Value {
    let p = &schema(spec, object)["properties"][name];
    assert!(p.is_object(), "{object} has no property {name}");
    match p["$ref"].as_str() {
        Some(r) => schema(spec, r.trim_start_matches("#/components/schemas/")),
        None => p,
    }
}

fn enum_values(schema: &Value) -> Vec<&str> {
    schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("not an enum: {schema}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn every_response_has_a_description() {
    let spec = spec();
    let missing: Vec<String> = responses(&spec)
        .into_iter()
        .filter(|(.., r)| {
            r["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
        })
        .map(|(path, method, status, _)| format!("{method} {path} {status}"))
        .collect();
    assert!(
        missing.is_empty(),
        "responses without a description: {missing:?}"
    );
}

#[test]
fn timestamps_are_date_times() {
    let spec = spec();
    for (object, field) in [
        ("Task", "created_at"),
        ("Task", "updated_at"),
        ("StreamMessage", "at"),
        ("ApiToken", "created_at"),
        ("ApiToken", "expires_at"),
        ("ApiToken", "last_used_at"),
        ("CreatedToken", "created_at"),
        ("CreatedToken", "expires_at"),
        ("CreatedToken", "last_used_at"),
    ] {
        let p = property(&spec, object, field);
        assert_eq!(p["type"], "string", "{object}.{field}");
        assert_eq!(p["format"], "date-time", "{object}.{field}");
    }
    // And any timestamp added later: a property named `at` or `…_at` anywhere.
    for (name, s) in spec["components"]["schemas"].as_object().unwrap() {
        for (field, p) in s["properties"].as_object().into_iter().flatten() {
            if field == "at" || field.ends_with("_at") {
                assert_eq!(p["format"], "date-time", "{name}.{field}");
            }
        }
    }
}

#[test]
fn actions_scopes_and_orderings_are_enums() {
    let spec = spec();
    assert_eq!(
        enum_values(property(&spec, "StreamMessage", "action")),
        ["create", "update", "delete", "reset"]
    );
    for object in ["ApiToken", "CreatedToken", "NewTokenRequest"] {
        let items = &schema(&spec, object)["properties"]["scopes"]["items"];
        let scope = schema(
            &spec,
            items["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{object}.scopes: {items}"))
                .trim_start_matches("#/components/schemas/"),
        );
        let mut values = enum_values(scope);
        values.sort();
        assert_eq!(
            values,
            ["account:read", "tasks:read", "tasks:write"],
            "{object}"
        );
    }
    let params = spec["paths"]["/api/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let ordering = params.iter().find(|p| p["name"] == "ordering").unwrap();
    let r = ordering["schema"]["$ref"].as_str().unwrap();
    let ordering = schema(&spec, r.trim_start_matches("#/components/schemas/"));
    assert_eq!(
        enum_values(ordering),
        [
            "id",
            "-id",
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "title",
            "-title"
        ]
    );
}

#[test]
fn response_headers_are_named_in_their_usual_case() {
    let spec = spec();
    let mut seen = std::collections::BTreeSet::new();
    for (path, method, status, r) in responses(&spec) {
        for name in r["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            assert!(
                tasklane::api::RESPONSE_HEADERS.contains(&name.as_str()),
                "{method} {path} {status}: header {name} is not one of the known spellings"
            );
            seen.insert(name.clone());
        }
    }
    assert_eq!(
        seen.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "Cache-Control",
            "ETag",
            "Idempotent-Replayed",
            "Link",
            "Pragma",
            "Retry-After",
            "WWW-Authenticate",
            "X-Last-Event-Id",
            "X-Total-Count"
        ]
    );
    let headers = |path: &str, method: &str, status: &str| -> Vec<String> {
        spec["paths"][path][method]["responses"][status]["headers"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        headers("/api/tasks", "get", "200"),
        ["X-Total-Count", "Link", "X-Last-Event-Id", "ETag"]
    );
    assert_eq!(
        headers("/api/tasks", "post", "201"),
        ["ETag", "Idempotent-Replayed"]
    );
    assert_eq!(headers("/api/token", "post", "401"), ["WWW-Authenticate"]);
    assert_eq!(headers("/api/token", "post", "429"), ["Retry-After"]);
}

/// A 400 is a map of field to messages (`ValidationError`), or `{"detail": "…"}` (an
/// `ErrorDetail`) for a body that could not be read.
#[test]
fn a_400_is_a_map_of_field_to_messages_or_a_detail() {
    let spec = spec();
    let v = schema(&spec, "ValidationError");
    assert_eq!(v["type"], "object");
    assert_eq!(
        v["additionalProperties"],
        json!({"type": "array", "items": {"type": "string"}})
    );
    assert!(v["properties"].is_null(), "{v}");
    assert_eq!(schema(&spec, "ErrorDetail")["required"], json!(["detail"]));
    let mut count = 0;
    for (path, method, status, r) in responses(&spec) {
        // OAuth 2.0's token endpoint answers with RFC 6749's error body instead.
        if status == "400" && path == "/api/oauth/token" {
            let media = r["content"].as_object().unwrap().values().next().unwrap();
            assert_eq!(
                media["schema"],
                json!({"$ref": "#/components/schemas/OAuthError"})
            );
            continue;
        }
        if status == "400" {
            count += 1;
            let content = r["content"].as_object().unwrap();
            assert_eq!(content.len(), 1, "{method} {path}");
            for media in content.values() {
                assert_eq!(
                    media["schema"],
                    json!({"oneOf": [
                        {"$ref": "#/components/schemas/ErrorDetail"},
                        {"$ref": "#/components/schemas/ValidationError"},
                    ]}),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(count > 10, "only {count} operations document a 400");
}

#[test]
fn the_main_task_and_auth_responses_have_examples() {
    let spec = spec();
    for name in [
        "Task",
        "User",
        "TokenPair",
        "RefreshedPair",
        "CreatedToken",
        "ApiToken",
        "StreamMessage",
        "ErrorDetail",
        "ValidationError",
    ] {
        let s = schema(&spec, name);
        let example = s["example"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no example"));
        // Every required property is in the example, and nothing else is.
        for required in s["required"].as_array().into_iter().flatten() {
            assert!(
                example.contains_key(required.as_str().unwrap()),
                "{name}'s example lacks {required}"
            );
        }
        if let Some(properties) = s["properties"].as_object()
            && s["additionalProperties"].is_null()
        {
            for key in example.keys() {
                assert!(properties.contains_key(key), "{name}'s example has {key}");
            }
        }
    }
    // The responses use them.
    let body = |path: &str, method: &str, status: &str| {
        spec["paths"][path][method]["responses"][status]["content"]
            ["application/json; charset=utf-8"]["schema"]
            .clone()
    };
    assert_eq!(
        body("/api/token", "post", "200")["$ref"],
        "#/components/schemas/TokenPair"
    );
    assert_eq!(
        body("/api/tasks", "post", "201")["$ref"],
        "#/components/schemas/Task"
    );
    assert_eq!(
        body("/api/tasks", "get", "200")["items"]["$ref"],
        "#/components/schemas/Task"
    );
}

/// The examples are what the server really sends: a task created now has the example's
/// keys in the example's order, and its timestamps parse as RFC 3339 date-times.
#[tokio::test]
async fn a_real_task_has_the_shape_of_the_documented_example() {
    let app = spawn_app().await;
    let (token, _) = app.user("example1").await;
    let task = app.new_task(&token, "Like the example").await;
    let spec = spec();
    let example = schema(&spec, "Task")["example"].as_object().unwrap();
    let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(task.as_object().unwrap()), keys(example));
    for field in ["created_at", "updated_at"] {
        let at = task[field].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "{field}: {at}"
        );
    }
}
