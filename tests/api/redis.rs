//! Several real `tasklane` processes on one SQLite file, fanning events out through a
//! real Redis — and surviving Redis going away.
//!
//! Needs Redis: `REDIS_URL` (default redis://127.0.0.1:6379) for the shared-Redis test,
//! and the `redis-server` binary for the fault test, which runs its own on a free port.
//! When they are missing the tests say so loudly and skip — unless `REQUIRE_REDIS=1`
//! (CI), where they fail.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The shared Redis, or None (skip) when it is unreachable and not required.
async fn shared_redis() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(3), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => skip_or_fail(&format!("Redis at {url} is unreachable")),
    }
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    if std::env::var("REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_REDIS=1");
    }
    eprintln!(
        "\n*** SKIPPED: {why}; set REDIS_URL or start redis-server (REQUIRE_REDIS=1 makes this fail) ***\n"
    );
    None
}

/// A `redis-server` of the test's own on `port`.
struct RedisServer {
    child: Child,
}

impl RedisServer {
    fn start(port: u16) -> Option<RedisServer> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => return skip_or_fail(&format!("cannot run redis-server ({e})")),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(RedisServer { child });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on {port}");
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn health(client: &reqwest::Client, p: &Proc) -> Value {
    client
        .get(p.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_for_redis(client: &reqwest::Client, p: &Proc, want: &str) {
    for _ in 0..200 {
        if health(client, p).await["redis"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} never reported redis {want}: {}",
        p.addr,
        health(client, p).await
    );
}

async fn ws_on(p: &Proc, token: &str, since: Option<i64>) -> Ws {
    let mut url = format!("ws://{}/ws/tasks/?token={token}", p.addr);
    if let Some(s) = since {
        url.push_str(&format!("&since={s}"));
    }
    let (inner, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    Ws { inner }
}

async fn create_on(client: &reqwest::Client, p: &Proc, token: &str, title: &str) -> StatusCode {
    client
        .post(p.url("/api/tasks/"))
        .bearer_auth(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn channel_prefix() -> String {
    format!("tasklane-test-{}", rand::random::<u64>())
}

#[tokio::test]
async fn a_client_on_one_process_sees_changes_made_through_another() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: two processes, one database file, one Redis.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let prefix = channel_prefix();
    let flags = ["--redis-url", &redis_url, "--redis-channel", &prefix];
    let a = spawn_tasklane(&db, &flags);
    let b = spawn_tasklane(&db, &flags);
    let client = reqwest::Client::new();
    wait_for_redis(&client, &a, "ok").await;
    wait_for_redis(&client, &b, "ok").await;
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
