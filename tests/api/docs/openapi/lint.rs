//! What the OpenAPI linters (scripts/openapi_lint.sh: Redocly's `recommended`, Spectral's
//! `spectral:oas`) ask of the document, checked here too so `cargo test` catches it first,
//! and checked against the live server where the document makes a claim about it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The public operations: no credentials needed.
const PUBLIC: &[&str] = &[
    "register",
    "obtain_token",
    "refresh_token",
    "revoke_token",
    "oauth_token",
    "create_user",
];

fn spec() -> Value {
    serde_json::from_str(&tasklane::api::spec_json()).expect("the document is JSON")
}

/// Every (method, path, operation) of the document.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("operationId").is_some() {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Redocly's security-defined: every operation says what it needs, and a public one says
/// so with `security: []`, not by leaving the field out.
#[test]
fn every_operation_declares_its_security_and_the_public_ones_an_empty_list() {
    let spec = spec();
    assert!(
        spec.get("security").is_none(),
        "a root security requirement"
    );
    let mut public = Vec::new();
    for (method, path, op) in operations(&spec) {
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} declares no security"));
        if security.is_empty() {
            public.push(op["operationId"].as_str().unwrap().to_owned());
        }
    }
    for id in PUBLIC {
        assert!(public.contains(&id.to_string()), "{id} is not public");
    }
}

/// `security: []` is a claim about the server: such an operation answers a request
/// without credentials (here a 400 for the empty body), and every other one refuses it
/// with a 401. A WebSocket handshake (its success is a 101) is asked for as one.
#[tokio::test]
async fn the_documents_security_is_what_the_server_enforces() {
    let app = spawn_app().await;
    for (method, path, op) in operations(&spec()) {
        let public = op["security"] == json!([]);
        let url = path.replace("{id}", "1") + "/";
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = app.client.request(method.clone(), app.url(&url));
        req = if op["responses"].get("101").is_some() {
            req.header("connection", "Upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        } else {
            req.json(&json!({}))
        };
        let r = read(req.send().await.unwrap()).await;
        if public {
            assert_ne!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {url}: {}",
                r.text
            );
        } else {
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {url}: {}",
                r.text
            );
        }
    }
}

/// Redocly's info-license: the project's license, as Cargo.toml has it.
#[test]
fn the_document_names_the_license() {
    let spec = spec();
    assert_eq!(spec["info"]["license"]["name"], env!("CARGO_PKG_LICENSE"));
    assert!(
        spec["info"]["license"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "{}",
        spec["info"]["license"]
    );
}

/// Redocly's no-empty-servers, Spectral's oas3-api-servers: one server, relative, so the
/// document is right on any deployment's origin (a client resolves it against the URL it
/// fetched the document from).
#[test]
fn the_one_server_is_wherever_the_document_is_served() {
    let spec = spec();
    let servers = spec["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0]["url"], "/");
}

/// Spectral's operation-description: a summary line is not enough; the doc comment's
/// second paragraph becomes the description.
#[test]
fn every_operation_has_a_description() {
    let missing: Vec<String> = operations(&spec())
        .into_iter()
        .filter(|(.., op)| {
            op["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
        })
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a description (give the handler's doc comment a second \
         paragraph): {missing:?}"
    );
}

/// Redocly's no-invalid-schema-examples, Spectral's oas3-valid-schema-example: an
/// example's property is never `null` where its schema does not allow it, nor of another
/// JSON type than its schema says.
#[test]
fn examples_fit_their_schemas() {
    let spec = spec();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        let Some(example) = schema["example"].as_object() else {
            continue;
        };
        let properties = schema["properties"].as_object();
        for (key, value) in example {
            let Some(p) = properties.and_then(|p| p.get(key)) else {
                continue;
            };
            let nullable = p["nullable"] == json!(true);
            let fits = match (p["type"].as_str(), value) {
                (_, Value::Null) => nullable,
                (Some("string"), v) => v.is_string(),
                (Some("integer"), v) => v.is_i64() || v.is_u64(),
                (Some("number"), v) => v.is_number(),
                (Some("boolean"), v) => v.is_boolean(),
                (Some("array"), v) => v.is_array(),
                (Some("object"), v) => v.is_object(),
                _ => true,
            };
            assert!(fits, "{name}'s example has {key}: {value}, schema {p}");
        }
    }
}
