//! Attacks and faults: login throttling, CORS, request ids, methods, idle connections,
//! and a SIGKILL in the middle of writes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_address_and_username() {
    // Arrange
    let app = spawn_app_with(|a| a.login_failures = 3).await;
    app.user("alice1").await;
    app.user("bob1").await;

    // Act + Assert: failures count, a success clears them.
    for _ in 0..2 {
        assert_eq!(
            app.login("alice1", "wrong-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.login("alice1", PASSWORD).await.status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(
            app.login("alice1", "wrong-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("alice1", "wrong-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60 + 1).contains(&retry), "{retry}");
    assert!(r.json()["detail"].as_str().unwrap().contains("throttled"));
    // Even the right password waits: guessing must not be able to tell it apart.
    assert_eq!(
        app.login("alice1", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other users are unaffected.
    assert_eq!(app.login("bob1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_address_guessing_many_usernames_is_throttled() {
    let app = spawn_app_with(|a| a.login_failures_per_address = 4).await;
    for i in 0..4 {
        assert_eq!(
            app.login(&format!("user{i}"), "wrong-password")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("user9", "wrong-password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let app = spawn_app_with(|a| a.registrations_per_address = 2).await;
    assert_eq!(
        app.register("u1", "u1@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.register("u2", "u2@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let r = app.register("u3", "u3@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let app = spawn_app_with(|a| {
        a.login_failures_per_address = 2;
        a.trust_x_forwarded_for = true;
    })
    .await;
    let login_from = |ip: &'static str| {
        let req = app
            .client
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
            .json(&json!({"username": "nobody", "password": "wrong-password"}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(login_from("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(login_from("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login_from("198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(login_from("198.51.100.2").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cors_is_off_by_default_and_only_for_configured_origins() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let app = spawn_app_with(|a| a.cors_origins = vec!["https://app.example.com".into()]).await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let pre = app
        .client
        .request(Method::OPTIONS, app.url("/api/tasks/"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let evil = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_wildcard_cors_origin_is_refused_at_start() {
    let parsed =
        <tasklane::config::Cli as clap::Parser>::try_parse_from(["tasklane", "--cors-origin", "*"]);
    assert!(parsed.is_err());
}

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

#[tokio::test]
async fn a_sigkill_mid_write_loses_no_acknowledged_write() {
    // Arrange: the real binary, writers creating and updating their own tasks.
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("crash.db");
    let server = spawn_tasklane(&db_path, &[]);
    let client = reqwest::Client::new();
    let base = server.url("");
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(user_on(&client, &server, &format!("writer{i}")).await);
    }
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let mut writers = Vec::new();
    for (w, token) in tokens.into_iter().enumerate() {
        let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let title = format!("Writer {w} task {i}");
                let Ok(r) = client.post(format!("{base}/api/tasks/")).bearer_auth(&token).json(&json!({"title": title})).send().await else { return };
                if r.status() != StatusCode::CREATED { return; }
                let Ok(task) = r.json::<Value>().await else { return };
                acked.lock().unwrap().push(task.clone());
                let Ok(r) = client.patch(format!("{base}/api/tasks/{}/", task["id"])).bearer_auth(&token).json(&json!({"completed": true, "description": format!("Updated by writer {w}")})).send().await else { return };
                if r.status() != StatusCode::OK { return; }
                let Ok(task) = r.json::<Value>().await else { return };
                acked.lock().unwrap().push(task);
            }
        }));
    }

    // Act: SIGKILL after a moment of load, then restart on the same file.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "only {} writes before the kill",
        acked.len()
    );
    let restarted = spawn_tasklane(&db_path, &[]);

    // Assert: every acknowledged response is in the outbox exactly as it was answered,
    // every acknowledged task exists, and the database is intact (SQLite's
    // integrity_check; PostgreSQL answers).
    let conn = db_at(&db_path).await;
    assert!(conn.intact().await);
    for task in &acked {
        let json = task.to_string();
        let found = conn
            .int(
                "SELECT EXISTS (SELECT 1 FROM events WHERE task = ?1)",
                &[&json],
            )
            .await;
        assert_eq!(
            found, 1,
            "acknowledged write missing from the outbox: {json}"
        );
        let exists = conn
            .int(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?1)",
                &[&task["id"].as_i64().unwrap()],
            )
            .await;
        assert_eq!(exists, 1, "acknowledged task {} missing", task["id"]);
    }
    let health: Value = client
        .get(restarted.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn logs_never_contain_passwords_tokens_or_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_tasklane(&dir.path().join("logs.db"), &[]);
    let client = reqwest::Client::new();
    let password = "Very-Secret-Passw0rd!";
    client
        .post(server.url("/api/register/"))
        .json(&json!({"username": "alice1", "email": "alice1@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    let pair: Value = client
        .post(server.url("/api/token/"))
        .json(&json!({"username": "alice1", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = pair["access"].as_str().unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    client
        .post(server.url("/api/token/"))
        .json(&json!({"username": "alice1", "password": "wrong-guess-123"}))
        .send()
        .await
        .unwrap();
    client
        .post(server.url("/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    let ticket = stream_ticket(&client, &server.url(""), access).await;
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/tasks/?ticket={ticket}", server.addr))
            .await
            .unwrap();
    drop(ws);
    let r = client
        .get(server.url("/api/tasks/?search=x"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = server.log();
    assert!(log.contains("/api/tasks"), "requests are logged:\n{log}");
    for secret in [
        password,
        "wrong-guess-123",
        access,
        refresh,
        &ticket,
        "$argon2id$",
        TEST_SECRET,
    ] {
        assert!(!log.contains(secret), "log leaked {secret}:\n{log}");
    }
}
