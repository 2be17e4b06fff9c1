//! The OpenAPI document has the shape clients and generators expect: every response
//! described, date-time timestamps, enums, headers in their usual case, the 400 body,
//! examples, and a real task shaped like the documented one.

use serde_json::{Value, json};

use crate::helpers::*;

use super::spec;

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
        [
            "create",
            "update",
            "delete",
            "project",
            "project_removed",
            "reset"
        ]
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
            [
                "account:read",
                "projects:read",
                "projects:write",
                "tasks:read",
                "tasks:write"
            ],
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
            "-title",
            "due_at",
            "-due_at"
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
            "X-Total-Count",
            "X-Total-Count-Capped"
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
        [
            "X-Total-Count",
            "X-Total-Count-Capped",
            "Link",
            "X-Last-Event-Id",
            "ETag"
        ]
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
