//! Idempotent creates: `Idempotency-Key` on `POST /api/tasks/`.

use reqwest::StatusCode;
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
