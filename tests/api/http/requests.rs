//! What every request gets, whatever it is: a request id, the allowed methods on a wrong
//! one, a clear 4xx that leaks nothing for hostile input, and service while thousands of
//! idle connections are open.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id;drop")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "bad id;drop");
}

#[tokio::test]
async fn wrong_methods_and_options_list_the_allowed_methods() {
    let app = spawn_app().await;
    let r = app
        .client
        .request(
            Method::from_bytes(b"TRACE").unwrap(),
            app.url("/api/tasks/5/"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers()["allow"],
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    let r = app
        .client
        .request(Method::OPTIONS, app.url("/api/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["allow"], "GET, POST, HEAD, OPTIONS");
    let r = app.client.head(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn hostile_input_gets_clear_4xx_and_leaks_nothing() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let secret = app.new_task(&alice, "Alice's secret task").await;

    let ten_mb = json!({"title": "x".repeat(10 << 20)}).to_string();
    let r = app
        .raw(
            Method::POST,
            "/api/tasks/",
            Some(&bob),
            "application/json",
            ten_mb,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    let probes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            "/api/tasks/?limit=1&limit=2&%zz=1&ordering=id%00".into(),
            None,
        ),
        (
            Method::GET,
            "/api/tasks/?search=%27%20OR%201%3D1%20--".into(),
            None,
        ),
        (
            Method::GET,
            format!("/api/tasks/{}%20OR%201=1/", secret["id"]),
            None,
        ),
        (Method::GET, "/api/tasks/-9223372036854775808/".into(), None),
        (
            Method::GET,
            "/api/tasks/?offset=18446744073709551616".into(),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{}/", secret["id"]),
            Some(json!({"title": "Stolen by bob"})),
        ),
        (
            Method::POST,
            "/api/tasks/".into(),
            Some(json!({"title": "Valid title", "user": 1, "user_id": 1, "id": secret["id"]})),
        ),
    ];
    for (m, path, body) in probes {
        let r = app.call(m.clone(), &path, Some(&bob), body).await;
        assert!(
            r.status.is_client_error() || r.status.is_success(),
            "{m} {path}: {}",
            r.status
        );
        assert!(
            !r.text.contains("Alice's secret"),
            "{m} {path} leaked: {}",
            r.text
        );
    }
    // Bob's create with forged ownership fields made a task of bob's own.
    let mine = app.list_tasks(&bob, "").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["user"]["username"], "bob1");
    assert_eq!(
        app.get(&format!("/api/tasks/{}/", secret["id"]), &alice)
            .await
            .json(),
        secret
    );
}

#[tokio::test]
async fn thousands_of_idle_connections_do_not_starve_real_clients() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let mut idle = Vec::new();
    for _ in 0..1500 {
        match tokio::net::TcpStream::connect(app.addr).await {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    assert!(idle.len() >= 1000, "only {} connections opened", idle.len());
    let started = std::time::Instant::now();
    let r = app.list_tasks(&token, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5));
}
