//! Several real `tasklane` processes on one SQLite file, ringing each other through a
//! real Redis: a change made through one reaches clients of another, an account deleted
//! through one loses its streams on the other, and without a Redis URL none is needed.
//!
//! Needs Redis at `REDIS_URL` (default redis://127.0.0.1:6379); without it the tests say
//! so loudly and skip, unless `REQUIRE_REDIS=1` (CI), where they fail.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use super::{channel_prefix, create_on, health, wait_for_redis};

/// Two processes on one new database file, fanning out through the Redis at
/// `redis_url` on a channel of their own, both connected to it.
async fn two_processes(redis_url: &str) -> (tempfile::TempDir, Proc, Proc, reqwest::Client) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let prefix = channel_prefix();
    let flags = ["--redis-url", redis_url, "--redis-channel", &prefix];
    let a = spawn_tasklane(&db, &flags);
    let b = spawn_tasklane(&db, &flags);
    let client = reqwest::Client::new();
    wait_for_redis(&client, &a, "ok").await;
    wait_for_redis(&client, &b, "ok").await;
    (dir, a, b, client)
}

#[tokio::test]
async fn a_client_on_one_process_sees_changes_made_through_another() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: two processes, one database file, one Redis.
    let (_dir, a, b, client) = two_processes(&redis_url).await;
    let alice = user_on(&client, &a, "alice1").await;
    let bob = user_on(&client, &a, "bob1").await;
    let mut alice_on_b = ws_on(&b, &alice, None).await;

    // Act: writes for both users through A.
    for i in 0..30 {
        assert_eq!(
            create_on(&client, &a, &alice, &format!("Alice task {i}")).await,
            StatusCode::CREATED
        );
        assert_eq!(
            create_on(&client, &a, &bob, &format!("Bob task {i}")).await,
            StatusCode::CREATED
        );
    }

    // Assert: every one of alice's, in order, and none of bob's.
    let events = alice_on_b.events_through(30).await;
    assert_eq!(ids(&events), (1..=30).collect::<Vec<_>>());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["task"]["title"], format!("Alice task {i}"));
        assert_eq!(e["task"]["user"]["username"], "alice1");
    }
    assert!(matches!(
        alice_on_b.next_within(Duration::from_millis(500)).await,
        WsNext::Timeout
    ));
}

#[tokio::test]
async fn without_a_redis_url_the_server_never_needs_redis() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_tasklane(&dir.path().join("t.db"), &[]);
    let client = reqwest::Client::new();
    let h = health(&client, &p).await;
    assert_eq!(h["redis"], "disabled");
    assert_eq!(h["status"], "ok");
    let token = user_on(&client, &p, "alice1").await;
    let mut ws = ws_on(&p, &token, None).await;
    assert_eq!(
        create_on(&client, &p, &token, "Single node task").await,
        StatusCode::CREATED
    );
    assert_eq!(ws.next_json().await["event_id"], 1);
    assert!(!p.log().to_lowercase().contains("redis"), "{}", p.log());
}

#[tokio::test]
async fn an_account_deleted_through_one_process_loses_its_streams_on_another_at_once() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: two processes, one database file, one Redis; alice's socket on B.
    let (_dir, a, b, client) = two_processes(&redis_url).await;
    let alice = user_on(&client, &a, "alice1").await;
    let mut on_b = ws_on(&b, &alice, None).await;
    // B has seen alice's token, so its account cache holds her.
    let r = client
        .get(b.url("/api/users/me/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Act: she deletes her account through A.
    let r = client
        .delete(a.url("/api/users/me/"))
        .bearer_auth(&alice)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let at = std::time::Instant::now();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Assert: B closes her stream with 4003 within a second, and refuses her token.
    match on_b.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(Some(4003), _) => {}
        other => panic!("expected close 4003 on B, got {other:?}"),
    }
    assert!(at.elapsed() < Duration::from_secs(1), "{:?}", at.elapsed());
    let r = client
        .get(b.url("/api/users/me/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
