//! Client-grade API: idempotent creates, optimistic concurrency, incremental sync and
//! personal API tokens.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

impl TestApp {
    async fn create_keyed(&self, token: &str, key: &str, body: Value) -> Resp {
        read(
            self.client
                .post(self.url("/api/tasks/"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn with_header(
        &self,
        method: Method,
        path: &str,
        token: &str,
        name: &str,
        value: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header(name, value);
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }
}

#[tokio::test]
async fn a_retried_create_with_the_same_key_returns_the_first_response() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let body = json!({"title": "Pay the rent", "description": "Before the first of the month"});

    let first = app.create_keyed(&token, "key-1", body.clone()).await;
    let again = app.create_keyed(&token, "key-1", body.clone()).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(app.task_count(&token).await, 1);
    // Another user may use the same key for their own task.
    let (bob, _) = app.user("bob1").await;
    assert_eq!(
        app.create_keyed(&bob, "key-1", body)
            .await
            .header("idempotent-replayed"),
        None
    );
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_422() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    app.create_keyed(&token, "key-1", json!({"title": "First title"}))
        .await;
    let r = app
        .create_keyed(&token, "key-1", json!({"title": "Other title"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let r = app
        .create_keyed(&token, "bad key", json!({"title": "First title"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.task_count(&token).await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_exactly_one_task() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let mut ws = app.ws(&token, None).await;
    let attempts =
        (0..16).map(|_| app.create_keyed(&token, "same-key", json!({"title": "Exactly once"})));
    let results = futures_util::future::join_all(attempts).await;
    let bodies: Vec<&str> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.text.as_str()
        })
        .collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    assert_eq!(
        results
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_none())
            .count(),
        1
    );
    assert_eq!(app.task_count(&token).await, 1);
    // One task, one event.
    assert_eq!(ws.next_json().await["event_id"], 1);
    assert!(matches!(
        ws.next_within(std::time::Duration::from_millis(300)).await,
        WsNext::Timeout
    ));
}

#[tokio::test]
async fn etags_and_if_match_prevent_lost_updates() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Shared task").await;
    assert_eq!(t["version"], 1);
    let path = format!("/api/tasks/{}/", t["id"]);

    let got = app.get(&path, &token).await;
    assert_eq!(got.header("etag"), Some("\"v1\""));
    let r = app
        .with_header(Method::GET, &path, &token, "if-none-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.text, "");

    let ok = app
        .with_header(
            Method::PATCH,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("etag"), Some("\"v2\""));
    assert_eq!(ok.json()["version"], 2);

    let stale = app
        .with_header(
            Method::PUT,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"title": "Overwrite"})),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.json()["detail"]
            .as_str()
            .unwrap()
            .contains("version 2")
    );
    let r = app
        .with_header(Method::DELETE, &path, &token, "if-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app
        .with_header(Method::GET, &path, &token, "if-none-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Without the headers, nothing changes for old clients.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"title": "No precondition"})),
        )
        .await;
    assert_eq!(r.json()["version"], 3);
    let r = app
        .with_header(Method::DELETE, &path, &token, "if-match", "*", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn of_concurrent_conflicting_edits_exactly_one_wins() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Contended task").await;
    let path = format!("/api/tasks/{}/", t["id"]);
    let edits = (0..12).map(|i| {
        app.with_header(
            Method::PATCH,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"title": format!("Edit number {i}")})),
        )
    });
    let results = futures_util::future::join_all(edits).await;
    let winners: Vec<&Resp> = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::PRECONDITION_FAILED)
    );
    let now = app.get(&path, &token).await.json();
    assert_eq!(now["title"], winners[0].json()["title"]);
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn changes_pages_through_the_outbox_with_a_cursor() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..5 {
        app.new_task(&token, &format!("Task number {i}")).await;
    }
    let first = app
        .get("/api/changes/?since=0&limit=2", &token)
        .await
        .json();
    assert_eq!(ids(first["events"].as_array().unwrap()), [1, 2]);
    assert_eq!(first["cursor"], 2);
    assert_eq!(first["more"], true);
    let rest = app
        .get("/api/changes/?since=2&limit=100", &token)
        .await
        .json();
    assert_eq!(ids(rest["events"].as_array().unwrap()), [3, 4, 5]);
    assert_eq!(rest["more"], false);
    assert_eq!(rest["events"][0]["task"]["title"], "Task number 2");
    let none = app.get("/api/changes/?since=5", &token).await.json();
    assert_eq!(none, json!({"events": [], "cursor": 5, "more": false}));

    // An expired cursor gets the stream's reset message.
    let c = db(&app);
    c.execute("UPDATE users SET events_pruned_through = 3", [])
        .unwrap();
    c.execute("DELETE FROM events WHERE seq <= 3", []).unwrap();
    let reset = app.get("/api/changes/?since=1", &token).await.json();
    assert_eq!(
        reset,
        json!({"events": [{"event_id": 5, "action": "reset"}], "cursor": 5, "more": false})
    );
    assert_eq!(
        app.get("/api/changes/", &token).await.status,
        StatusCode::BAD_REQUEST
    );
}

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
    let stored: String = db(&app)
        .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
        .unwrap();
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
        .execute("UPDATE api_tokens SET expires_unix = 1", [])
        .unwrap();
    assert_eq!(
        app.get("/api/tasks/", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}
