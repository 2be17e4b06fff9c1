//! Personal API tokens: scoped (and scopes mean what they say), shown once, revocable,
//! expiring, and never in a URL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn personal_api_tokens_are_scoped_shown_once_and_revocable() {
    let app = spawn_app().await;
    let (session, _) = app.user("alice1").await;
    let t = app.new_task(&session, "Readable by scripts").await;

    // Create: the secret is in the response once.
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&session),
            Some(json!({"name": "reader", "scopes": ["tasks:read"], "expires_in_days": 30})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let reader = r.json()["token"].as_str().unwrap().to_owned();
    assert!(reader.starts_with("tlp_") && reader.len() == 44);
    let listed = app.get("/api/tokens/", &session).await;
    assert!(!listed.text.contains(&reader));
    assert_eq!(listed.json()[0]["name"], "reader");
    let stored = db(&app)
        .await
        .text("SELECT token_hash FROM api_tokens", &[])
        .await;
    assert_ne!(stored, reader);

    // Read works; writes and token management do not.
    assert_eq!(
        app.get(&format!("/api/tasks/{}/", t["id"]), &reader)
            .await
            .json()["title"],
        "Readable by scripts"
    );
    // Its use is recorded (in the background, so allow a moment).
    let mut used = Value::Null;
    for _ in 0..50 {
        used = app.get("/api/tokens/", &session).await.json()[0]["last_used_at"].clone();
        if !used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used.is_string(), "last_used_at was never set");
    let r = app
        .create_task(&reader, json!({"title": "Not allowed"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["code"], "insufficient_scope");
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&reader),
            Some(json!({"name": "escalate", "scopes": ["tasks:write"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/tokens/", &reader).await.status,
        StatusCode::FORBIDDEN
    );

    // A writer token writes, and the stream accepts tokens too.
    let writer = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&session),
            Some(json!({"name": "writer", "scopes": ["tasks:read", "tasks:write"]})),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = app.ws_bearer(&reader).await;
    assert_eq!(
        app.create_task(&writer, json!({"title": "Written by a script"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(ws.next_json().await["task"]["title"], "Written by a script");

    // Revoke: it stops working at once.
    let id = app
        .get("/api/tokens/", &session)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "reader")
        .unwrap()["id"]
        .clone();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tokens/{id}/"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/api/tasks/", &reader).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "token_not_valid");

    // Bad requests.
    for body in [
        json!({"name": "x", "scopes": ["admin"]}),
        json!({"name": "x", "scopes": []}),
        json!({"scopes": ["tasks:read"]}),
        json!({"name": "x", "scopes": ["tasks:read"], "expires_in_days": 0}),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/tokens/",
                Some(&session),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn an_expired_api_token_is_refused() {
    let app = spawn_app().await;
    let (session, _) = app.user("alice1").await;
    let token = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&session),
            Some(json!({"name": "short", "scopes": ["tasks:read"], "expires_in_days": 1})),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/api/tasks/", &token).await.status, StatusCode::OK);
    db(&app)
        .await
        .execute("UPDATE api_tokens SET expires_unix = 1", &[])
        .await;
    assert_eq!(
        app.get("/api/tasks/", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A token's name ends up in operators' terminals (`tasklane token list`) and in pages:
/// escape sequences (ESC, C1 controls), bidi overrides and isolates, zero-width and other
/// format characters, and line separators are refused when it is created.
#[tokio::test]
async fn a_token_name_with_control_or_format_characters_is_refused() {
    let app = spawn_app().await;
    let (session, _) = app.user("alice1").await;
    for (name, code) in [
        ("\u{1b}]0;pwned\u{7}", "U+001B"),
        ("clear\u{1b}[2J", "U+001B"),
        ("csi\u{9b}2J", "U+009B"),
        ("backup\u{202e}txt.exe", "U+202E"),
        ("iso\u{2066}late", "U+2066"),
        ("zero\u{200b}width", "U+200B"),
        ("two\u{2028}lines", "U+2028"),
        ("del\u{7f}", "U+007F"),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/tokens/",
                Some(&session),
                Some(json!({"name": name, "scopes": ["tasks:read"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name:?}: {}", r.text);
        assert_eq!(
            r.json(),
            json!({"name": [format!("Control and format characters are not allowed ({code}).")]}),
            "{name:?}"
        );
    }
    assert_eq!(
        app.get("/api/tokens/", &session).await.json(),
        json!([]),
        "nothing was created"
    );
    // Letters of any script, spaces and punctuation are fine.
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&session),
            Some(json!({"name": "Sauvegarde nocturne — 日本 (v2)", "scopes": ["tasks:read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn write_implies_read_and_is_listed_so() {
    let app = spawn_app().await;
    let (session, _) = app.user("scopes1").await;
    let task = app.new_task(&session, "Seen by writers").await;
    let writer = api_token(&app, &session, &["tasks:write"]).await;

    let listed = app.get("/api/tokens/", &session).await.json();
    assert_eq!(listed[0]["scopes"], json!(["tasks:read", "tasks:write"]));
    // What a writer is answered with, it may also read: the listing says so.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{}/", task["id"]),
            Some(&writer),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/api/tasks/", &writer).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_account_routes_need_the_account_read_scope() {
    let app = spawn_app().await;
    let (session, _) = app.user("scopes2").await;
    let tasks_only = api_token(&app, &session, &["tasks:read", "tasks:write"]).await;
    let account = api_token(&app, &session, &["account:read"]).await;
    let me = app.get("/api/users/me/", &session).await.json();

    for path in [
        "/api/users/me/".to_owned(),
        "/api/users/".to_owned(),
        format!("/api/users/{}/", me["id"]),
        "/api/".to_owned(),
    ] {
        let r = app.get(&path, &tasks_only).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.json()["code"], "insufficient_scope", "{path}");
        assert_eq!(
            app.get(&path, &account).await.status,
            StatusCode::OK,
            "{path}"
        );
        // Sessions are unaffected.
        assert_eq!(
            app.get(&path, &session).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // account:read reads the account, not the tasks.
    assert_eq!(
        app.get("/api/tasks/", &account).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn api_tokens_never_travel_in_urls() {
    let app = spawn_app().await;
    let (session, _) = app.user("urls1").await;
    let script = api_token(&app, &session, &["tasks:read"]).await;

    // Refused before the upgrade: a plain HTTP 401, no socket.
    let r = app
        .client
        .get(app.url(&format!("/ws/tasks/?token={script}")))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "token_in_url");
    let err = tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/tasks/?token={script}")))
        .await
        .expect_err("no socket for an API token in the URL");
    assert!(err.to_string().contains("401"), "{err}");

    // In the header it works.
    let mut ws = app.ws_bearer(&script).await;
    app.new_task(&session, "Heard through the header").await;
    assert_eq!(
        ws.next_json().await["task"]["title"],
        "Heard through the header"
    );
}
