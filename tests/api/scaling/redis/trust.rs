//! Nothing published on Redis is trusted: forged, replayed or old-format hints are never
//! delivered, and deployments sharing one Redis never hear each other.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane::hub::redis::{Hint, HintKey};

use crate::helpers::*;

use super::{channel_prefix, create_on, wait_for_redis};

/// PUBLISHes `payload` on `channel`: how many subscribers heard it.
async fn publish(redis_url: &str, channel: &str, payload: &[u8]) -> i64 {
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// The identity of the database in `db`, as the server stored it.
async fn database_id(db: &Path) -> String {
    db_at(db)
        .await
        .text("SELECT value FROM settings WHERE key = 'database_id'", &[])
        .await
}

/// A hint in the current wire format, signed with `secret`.
fn hint(secret: &str, database_id: &str, user_id: i64, event_id: i64) -> String {
    Hint {
        database_id,
        origin: "0123456789abcdef0123456789abcdef",
        user_id,
        event_id,
    }
    .encode(&HintKey::from_secret(secret.as_bytes()))
}

/// Events in the bridge's former wire format (`origin user event action`, then the
/// event's JSON), which carried whole events for the receiver to deliver.
fn old_wire(user_id: i64, event_id: i64, json: &str) -> String {
    format!("fedcba9876543210fedcba9876543210 {user_id} {event_id} create\n{json}")
}

fn forged_task(event_id: i64) -> String {
    json!({
        "event_id": event_id,
        "action": "create",
        "task": {"id": 4242, "title": "Forged task", "description": null, "completed": false,
                 "created_at": "2026-01-01T00:00:00.000000Z",
                 "updated_at": "2026-01-01T00:00:00.000000Z",
                 "user": {"id": 1, "username": "alice1", "email": "alice1@example.com"}},
        "at": "2026-01-01T00:00:00.000000Z"
    })
    .to_string()
}

async fn assert_silent(ws: &mut Ws, wait: Duration, what: &str) {
    match ws.next_within(wait).await {
        WsNext::Timeout => {}
        other => panic!("{what}: expected nothing, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_published_on_redis_is_ever_delivered() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: a process with Redis, and alice (user 1) with a socket open on it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let prefix = channel_prefix();
    let p = spawn_tasklane(
        &db,
        &["--redis-url", &redis_url, "--redis-channel", &prefix],
    );
    let client = reqwest::Client::new();
    wait_for_redis(&client, &p, "ok").await;
    let alice = user_on(&client, &p, "alice1").await;
    let mut ws = ws_on(&p, &alice, None).await;
    let db_id = database_id(&db).await;
    let own_channel = format!("{prefix}:events");

    // Act: whoever can publish on the Redis publishes made-up events (old wire format)
    // and hints (new format: unsigned, signed with a wrong key, for another database, and
    // properly signed — as with a leaked secret — naming events that don't exist).
    let forgeries = |first: i64| {
        vec![
            old_wire(1, first, &forged_task(first)).into_bytes(),
            old_wire(1, 999_999_999, &forged_task(999_999_999)).into_bytes(),
            old_wire(1, first + 1, "{}").into_bytes(),
            b"{}".to_vec(),
            b"garbage".to_vec(),
            vec![0xff, 0x00, 0xfe],
            hint("not the signing secret", &db_id, 1, 999_999_999).into_bytes(),
            hint(
                TEST_SECRET,
                "ffffffffffffffffffffffffffffffff",
                1,
                999_999_999,
            )
            .into_bytes(),
            hint(TEST_SECRET, &db_id, 1, 999_999_999).into_bytes(),
            hint(TEST_SECRET, &db_id, 1, first).into_bytes(),
        ]
    };
    for (i, forged) in forgeries(1).into_iter().enumerate() {
        publish(&redis_url, "tasklane:events", &forged).await;
        // The process is listening: it heard every one of them.
        let heard = publish(&redis_url, &own_channel, &forged).await;
        if heard != 1 {
            let mut later = Vec::new();
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                later.push(publish(&redis_url, &own_channel, b"probe").await);
            }
            let client = redis::Client::open(redis_url.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let clients: String = redis::cmd("CLIENT")
                .arg("LIST")
                .query_async(&mut conn)
                .await
                .unwrap();
            let channels: Vec<String> = redis::cmd("PUBSUB")
                .arg("CHANNELS")
                .query_async(&mut conn)
                .await
                .unwrap();
            panic!(
                "the process is not subscribed to {own_channel} at forgery {i} (later: {later:?}):\nclients:\n{clients}\nchannels: {channels:?}\n{}",
                p.log()
            );
        }
    }

    // Assert: nothing arrived, and the next real write arrives as event 1.
    assert_silent(&mut ws, Duration::from_secs(1), "after forgeries").await;
    assert_eq!(
        create_on(&client, &p, &alice, "Real task one").await,
        StatusCode::CREATED
    );
    let first = ws.next_json().await;
    assert_eq!(first["event_id"], 1, "{first}");
    assert_eq!(first["task"]["title"], "Real task one");

    // Again, now that there is a real event 1: no duplicate, no jump.
    for forged in forgeries(2) {
        assert_eq!(
            publish(&redis_url, &own_channel, &forged).await,
            1,
            "the process is not subscribed:\n{}",
            p.log()
        );
    }
    assert_silent(&mut ws, Duration::from_millis(500), "after more forgeries").await;
    assert_eq!(
        create_on(&client, &p, &alice, "Real task two").await,
        StatusCode::CREATED
    );
    let second = ws.next_json().await;
    assert_eq!(second["event_id"], 2, "{second}");
    assert_eq!(second["task"]["title"], "Real task two");
    assert_silent(&mut ws, Duration::from_millis(500), "after the real writes").await;

    // Resuming sees the real history, and the server's last id is 2, not 999999999.
    let mut replay = ws_on(&p, &alice, Some(0)).await;
    let events = replay.events_through(2).await;
    assert_eq!(ids(&events), vec![1, 2]);
    assert_eq!(events[0]["task"]["title"], "Real task one");
    let mut caught_up = ws_on(&p, &alice, Some(2)).await;
    assert_silent(&mut caught_up, Duration::from_millis(300), "since=2").await;
    let mut ahead = ws_on(&p, &alice, Some(999_999_999)).await;
    assert_eq!(
        ahead.next_json().await,
        json!({"event_id": 2, "action": "reset"})
    );
    assert_eq!(
        create_on(&client, &p, &alice, "Real task three").await,
        StatusCode::CREATED
    );
    for ws in [&mut ws, &mut replay, &mut caught_up, &mut ahead] {
        let e = ws.next_json().await;
        assert_eq!(
            (e["event_id"].as_i64(), e["task"]["title"].as_str()),
            (Some(3), Some("Real task three"))
        );
    }
}

#[tokio::test]
async fn deployments_sharing_a_redis_never_hear_each_other() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: two deployments (two database files) on one Redis, both with the default
    // channel, and the same username on each: user 1 on both.
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--redis-url", &redis_url];
    let a = spawn_tasklane(&dir.path().join("a.db"), &flags);
    let b = spawn_tasklane(&dir.path().join("b.db"), &flags);
    let client = reqwest::Client::new();
    wait_for_redis(&client, &a, "ok").await;
    wait_for_redis(&client, &b, "ok").await;
    let alice_a = user_on(&client, &a, "alice1").await;
    let alice_b = user_on(&client, &b, "alice1").await;
    let mut ws_b = ws_on(&b, &alice_b, None).await;
    let mut heard = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    heard.subscribe("tasklane:events").await.unwrap();

    // Act: alice writes through A.
    for i in 0..5 {
        let r = client
            .post(a.url("/api/tasks/"))
            .bearer_auth(&alice_a)
            .json(&json!({ "title": format!("Task on A {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let task: Value = r.json().await.unwrap();
        assert_eq!(task["user"]["id"], 1);
    }

    // Assert: A did ring on the shared channel, B's alice heard nothing of it, and B's
    // own writes still arrive.
    let a_id = database_id(&dir.path().join("a.db")).await;
    let rang = tokio::time::timeout(Duration::from_secs(5), async {
        let mut messages = heard.on_message();
        while let Some(m) = messages.next().await {
            if String::from_utf8_lossy(m.get_payload_bytes()).contains(&a_id) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(rang, Ok(true), "A published nothing on tasklane:events");
    assert_silent(
        &mut ws_b,
        Duration::from_millis(1500),
        "B, after writes on A",
    )
    .await;
    assert_eq!(
        create_on(&client, &b, &alice_b, "Task on B").await,
        StatusCode::CREATED
    );
    let e = ws_b.next_json().await;
    assert_eq!(e["event_id"], 1, "{e}");
    assert_eq!(e["task"]["title"], "Task on B");
    assert_eq!(e["task"]["user"]["id"], 1);
    assert_silent(
        &mut ws_b,
        Duration::from_millis(500),
        "B, after its own write",
    )
    .await;
}
