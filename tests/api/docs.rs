//! The generated OpenAPI document, the docs pages and the health check.

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
    let readme = include_str!("../../README.md");
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
