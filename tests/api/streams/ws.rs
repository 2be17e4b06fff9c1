//! The live stream over real WebSockets: ownership, order, resume with `since`, token
//! expiry, deactivation and shutdown. (SSE: `sse`; slow consumers: `slow_readers`.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_owner_receives_create_update_delete_in_order() {
    // Arrange
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let mut ws = app.ws(&token, None).await;

    // Act
    let created = app.new_task(&token, "Streamed task").await;
    let path = format!("/api/tasks/{}/", created["id"]);
    let updated = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"completed": true})),
        )
        .await
        .json();
    app.call(Method::DELETE, &path, Some(&token), None).await;

    // Assert
    let events = ws.events_through(3).await;
    assert_eq!(ids(&events), [1, 2, 3]);
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    assert_eq!(events[0]["task"], created);
    assert_eq!(events[1]["task"], updated);
    assert_eq!(
        events[2]["task"], updated,
        "a delete carries the task as it was"
    );
    let keys: Vec<&str> = events[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["event_id", "action", "task", "at"]);
}

#[tokio::test]
async fn a_user_never_receives_another_users_events() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let mut bob_ws = app.ws(&bob, None).await;
    let mut alice_ws = app.ws(&alice, None).await;

    // Many concurrent writers for alice.
    let writes = (0..40).map(|i| {
        let app = &app;
        let alice = alice.clone();
        async move { app.new_task(&alice, &format!("Alice task {i}")).await }
    });
    futures_util::future::join_all(writes).await;
    let alice_events = alice_ws.events_through(40).await;
    assert_eq!(ids(&alice_events), (1..=40).collect::<Vec<_>>());

    // Bob's socket works, and the first thing on it is bob's own event.
    let mine = app.new_task(&bob, "Bob's own task").await;
    let first = bob_ws.next_json().await;
    assert_eq!(first["task"], mine);
    assert_eq!(first["event_id"], 1);
    assert!(matches!(
        bob_ws.next_within(Duration::from_millis(300)).await,
        WsNext::Timeout
    ));
}

#[tokio::test]
async fn the_socket_needs_a_valid_token_before_the_upgrade() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    let t = now();
    let expired = sign(
        &json!({"token_type": "access", "exp": t - 1, "iat": t - 301, "jti": "x", "user_id": 1}),
    );
    for url in [
        "/ws/tasks/".to_owned(),
        "/ws/tasks/?token=garbage".to_owned(),
        format!("/ws/tasks/?token={expired}"),
        format!("/ws/tasks/?token={refresh}"),
    ] {
        match tokio_tungstenite::connect_async(app.ws_url(&url)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401, "{url}");
            }
            other => panic!("{url}: expected a 401, got {:?}", other.map(|_| "a socket")),
        }
    }
    // With a ticket, with and without the trailing slash.
    for url in [
        format!("/ws/tasks?ticket={}", app.ticket(&access).await),
        format!("/ws/tasks/?ticket={}", app.ticket(&access).await),
    ] {
        assert!(
            tokio_tungstenite::connect_async(app.ws_url(&url))
                .await
                .is_ok(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn resuming_with_since_during_writes_yields_exactly_the_missing_events() {
    // Arrange: 20 events exist.
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..20 {
        app.new_task(&token, &format!("Before {i}")).await;
    }

    // Act: resume from 5 while 50 more writes happen.
    let writer = {
        let client = app.client.clone();
        let url = app.url("/api/tasks/");
        let token = token.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("During {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        })
    };
    let mut ws = app.ws(&token, Some(5)).await;
    let events = ws.events_through(70).await;
    writer.await.unwrap();

    // Assert: 6..=70, each once, in order.
    assert_eq!(ids(&events), (6..=70).collect::<Vec<_>>());
    assert!(matches!(
        ws.next_within(Duration::from_millis(300)).await,
        WsNext::Timeout
    ));
}

#[tokio::test]
async fn a_since_older_than_the_kept_history_gets_a_reset() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..6 {
        app.new_task(&token, &format!("Task {i}")).await;
    }
    // As the retention pruner would have done.
    let c = db(&app).await;
    c.execute("UPDATE users SET events_pruned_through = 4", &[])
        .await;
    c.execute("DELETE FROM events WHERE seq <= 4", &[]).await;

    let mut ws = app.ws(&token, Some(2)).await;
    assert_eq!(
        ws.next_json().await,
        json!({"event_id": 6, "action": "reset"})
    );
    app.new_task(&token, "After the reset").await;
    assert_eq!(ws.next_json().await["event_id"], 7);

    // A since from the future (another database?) is a reset too; from 4 is fine.
    let mut ws = app.ws(&token, Some(99)).await;
    assert_eq!(ws.next_json().await["action"], "reset");
    let mut ws = app.ws(&token, Some(4)).await;
    assert_eq!(ids(&ws.events_through(7).await), [5, 6, 7]);
}

#[tokio::test]
async fn frames_from_clients_are_ignored_and_never_broadcast() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let mut attacker = app.ws(&bob, None).await;
    let mut victim = app.ws(&alice, None).await;
    for frame in [
        r#"{"task":{"action":"delete","id":1,"title":"spoofed"}}"#,
        r#"{"task":{"action":"create","title":"made by a frame"}}"#,
        "not json at all",
        "",
    ] {
        attacker.send_text(frame).await;
    }
    {
        use futures_util::SinkExt;
        attacker
            .inner
            .send(tokio_tungstenite::tungstenite::Message::binary(vec![
                0u8, 159, 146, 150,
            ]))
            .await
            .unwrap();
    }
    assert!(matches!(
        victim.next_within(Duration::from_millis(500)).await,
        WsNext::Timeout
    ));
    // The attacker's socket is still open and working, and nothing was created.
    let t = app.new_task(&bob, "Bob still streams").await;
    assert_eq!(attacker.next_json().await["task"], t);
    assert_eq!(app.list_tasks(&alice, "").await.text, "[]");
}

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_4001() {
    let app = spawn_app_with(|a| a.access_ttl = Duration::from_secs(2)).await;
    let (token, _) = app.user("alice1").await;
    let mut ws = app.ws(&token, None).await;
    match ws.next_within(Duration::from_secs(6)).await {
        WsNext::Closed(code, reason) => {
            assert_eq!(code, Some(4001));
            assert!(reason.contains("since=0"), "{reason}");
        }
        other => panic!("expected 4001, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let mut ws = app.ws(&token, None).await;
    let stopping = tokio::spawn(app.stop());
    match ws.next_within(Duration::from_secs(10)).await {
        WsNext::Closed(code, _) => assert_eq!(code, Some(1001)),
        other => panic!("expected 1001, got {other:?}"),
    }
    stopping.await.unwrap();
}

#[tokio::test]
async fn the_list_says_where_to_resume_the_stream() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    app.new_task(&token, "One task").await;
    app.new_task(&token, "Two tasks").await;
    let list = app.list_tasks(&token, "").await;
    assert_eq!(list.header("x-last-event-id"), Some("2"));
    let mut ws = app.ws(&token, Some(2)).await;
    let t = app.new_task(&token, "Three tasks").await;
    let e = ws.next_json().await;
    assert_eq!((e["event_id"].clone(), e["task"].clone()), (json!(3), t));
}

#[tokio::test]
async fn deactivating_an_account_closes_its_streams_with_4003() {
    let app = spawn_app_with(|a| a.stream_recheck = Duration::from_millis(200)).await;
    let (token, _) = app.user("alice1").await;
    let mut ws = app.ws(&token, None).await;
    db(&app)
        .await
        .execute(
            "UPDATE users SET is_active = FALSE WHERE username = 'alice1'",
            &[],
        )
        .await;
    match ws.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(code, _) => assert_eq!(code, Some(4003)),
        other => panic!("expected 4003, got {other:?}"),
    }
}
