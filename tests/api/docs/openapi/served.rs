//! The OpenAPI document: the committed copy is fresh, and the document, Swagger UI and
//! ReDoc are served where clients look for them, as self-contained pages.

use reqwest::StatusCode;

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
