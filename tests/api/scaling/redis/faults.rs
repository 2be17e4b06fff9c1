//! Redis going away: no write and no event is lost, and a Redis down at start only
//! degrades (a `redis-server` of the test's own, killed mid-test).

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

use super::{channel_prefix, create_on, health, wait_for_redis};

#[tokio::test]
async fn redis_going_away_loses_no_write_and_no_event() {
    // Arrange: our own Redis, two processes using it.
    let port = free_port();
    let Some(redis) = RedisServer::start(port) else {
        return;
    };
    let redis_url = format!("redis://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let prefix = channel_prefix();
    let flags = ["--redis-url", &redis_url, "--redis-channel", &prefix];
    let a = spawn_tasklane(&db, &flags);
    let b = spawn_tasklane(&db, &flags);
    let client = reqwest::Client::new();
    wait_for_redis(&client, &b, "ok").await;
    let alice = user_on(&client, &a, "alice1").await;
    let mut ws = ws_on(&b, &alice, None).await;

    // Act: write steadily through A; kill Redis a third of the way, restart it later.
    let total = 90;
    let mut redis = Some(redis);
    for i in 0..total {
        if i == 30 {
            redis.take().unwrap().kill();
        }
        if i == 45 {
            wait_for_redis(&client, &b, "degraded").await;
            // HTTP keeps working while Redis is away.
            assert_eq!(health(&client, &a).await["status"], "degraded");
        }
        if i == 60 {
            redis = RedisServer::start(port);
            assert!(redis.is_some());
        }
        let status = create_on(&client, &a, &alice, &format!("Task {i}")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "write {i} failed while Redis was away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_redis(&client, &b, "ok").await;

    // Assert: what the socket got, plus a resume from its last event, is every event
    // exactly once and in order.
    let mut got: Vec<i64> = Vec::new();
    while let WsNext::Json(v) = ws.next_within(Duration::from_secs(3)).await {
        got.push(v["event_id"].as_i64().unwrap());
    }
    let last = got.last().copied().unwrap_or(0);
    if last < total {
        let mut resumed = ws_on(&b, &alice, Some(last)).await;
        got.extend(ids(&resumed.events_through(total).await));
    }
    assert_eq!(got, (1..=total).collect::<Vec<_>>());
    // The outage was logged as a transition, not once per event.
    let log = b.log();
    let lost = log.matches("lost, reconnecting").count();
    assert!((1..=4).contains(&lost), "{lost} loss lines:\n{log}");
}

#[tokio::test]
async fn redis_down_at_start_only_degrades() {
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_tasklane(&dir.path().join("t.db"), &["--redis-url", &dead]);
    let client = reqwest::Client::new();
    wait_for_redis(&client, &p, "degraded").await;
    let token = user_on(&client, &p, "alice1").await;
    let mut ws = ws_on(&p, &token, None).await;
    assert_eq!(
        create_on(&client, &p, &token, "Works without Redis").await,
        StatusCode::CREATED
    );
    assert_eq!(ws.next_json().await["event_id"], 1);
}
