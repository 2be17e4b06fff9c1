//! `Cache-Control` on what carries secrets or an account's data: never stored, except
//! task reads, which only the client may keep and must revalidate (they have `ETag`s).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn tokens_and_account_data_are_never_stored_and_task_reads_are_revalidated() {
    let app = spawn_app().await;
    let r = app.register("alice1", "alice1@example.com", PASSWORD).await;
    assert_eq!(r.header("cache-control"), Some("no-store"), "register");
    let login = app.login("alice1", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.header("cache-control"), Some("no-store"), "login");
    let wrong = app.login("alice1", "not-the-Passw0rd").await;
    assert_eq!(
        wrong.header("cache-control"),
        Some("no-store"),
        "refused login"
    );
    let access = login.json()["access"].as_str().unwrap().to_owned();
    let refresh = login.json()["refresh"].as_str().unwrap().to_owned();
    let r = app.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-store"), "refresh");

    let task = app.new_task(&access, "Cached privately").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;
    for (method, path, body) in [
        (Method::GET, "/api/".to_owned(), None),
        (Method::GET, "/api/users/me/".to_owned(), None),
        (Method::GET, "/api/users/".to_owned(), None),
        (Method::GET, "/api/tokens/".to_owned(), None),
        (Method::GET, "/api/changes/?since=0".to_owned(), None),
        (Method::POST, "/api/stream-tickets/".to_owned(), None),
        (
            Method::POST,
            "/api/tasks/".to_owned(),
            Some(json!({"title": "Another task"})),
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{}/", task["id"]),
            Some(json!({"completed": true})),
        ),
        (
            Method::POST,
            "/api/tokens/".to_owned(),
            Some(json!({"name": "x", "scopes": ["tasks:read"]})),
        ),
    ] {
        let r = app.call(method.clone(), &path, Some(&access), body).await;
        assert!(r.status.is_success(), "{method} {path}: {}", r.text);
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "{method} {path}"
        );
    }
    // Refusals say nothing cacheable either.
    let r = app.get("/api/tasks/", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Task reads: the client may keep them, and revalidates with the ETag each time.
    for path in [
        "/api/tasks/".to_owned(),
        format!("/api/tasks/{}/", task["id"]),
    ] {
        let r = app.get(&path, &script).await;
        assert_eq!(
            r.header("cache-control"),
            Some("private, no-cache"),
            "{path}"
        );
        let etag = r.header("etag").expect("an ETag").to_owned();
        let again = app
            .with_header(Method::GET, &path, &script, "If-None-Match", &etag, None)
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.header("cache-control"), Some("private, no-cache"));
    }
}
