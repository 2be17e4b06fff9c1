//! Three members on two real `tasklane serve` processes sharing one database and one
//! Redis: concurrent edits through both reach the third member's socket in order, under
//! gapless ids, and a member removed through one process stops receiving on the other at
//! once. On PostgreSQL when the suite runs there (the processes share one database).
//!
//! Needs Redis at `REDIS_URL`; without it the test says so loudly and skips, unless
//! `REQUIRE_REDIS=1`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn call(
    client: &reqwest::Client,
    p: &Proc,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = client.request(method, p.url(path)).bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn redis_connected(client: &reqwest::Client, p: &Proc) {
    for _ in 0..600 {
        let h: Value = client
            .get(p.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["redis"] == "ok" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never connected to redis\n{}", p.addr, p.log());
}

async fn join(
    client: &reqwest::Client,
    p: &Proc,
    owner: &str,
    id: &Value,
    who: (&str, &str),
    role: &str,
) {
    let (s, inv) = call(
        client,
        p,
        Method::POST,
        &format!("/api/projects/{id}/invitations/"),
        owner,
        Some(json!({"username": who.0, "role": role})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let (s, r) = call(
        client,
        p,
        Method::POST,
        &format!("/api/invitations/{}/accept/", inv["id"]),
        who.1,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn edits_through_two_processes_reach_a_third_member_in_order_until_removed() {
    let Some(redis_url) = shared_redis().await else {
        return;
    };
    // Arrange: two processes, one database, one Redis channel of their own.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let prefix = format!("tasklane-test-{}", rand::random::<u64>());
    let flags = [
        "--redis-url",
        redis_url.as_str(),
        "--redis-channel",
        &prefix,
    ];
    let a = spawn_tasklane(&db, &flags);
    let b = spawn_tasklane(&db, &flags);
    let client = reqwest::Client::new();
    redis_connected(&client, &a).await;
    redis_connected(&client, &b).await;
    let alice = user_on(&client, &a, "alice1").await;
    let bob = user_on(&client, &a, "bob1").await;
    let carol = user_on(&client, &a, "carol1").await;
    let (s, project) = call(
        &client,
        &a,
        Method::POST,
        "/api/projects/",
        &alice,
        Some(json!({"name": "Across"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{project}");
    let id = project["id"].clone();
    join(&client, &a, &alice, &id, ("bob1", &bob), "editor").await;
    join(&client, &a, &alice, &id, ("carol1", &carol), "viewer").await;
    let (_, page) = call(
        &client,
        &b,
        Method::GET,
        "/api/changes/?since=0",
        &carol,
        None,
    )
    .await;
    let from = page["cursor"].as_i64().unwrap();
    let mut carol_on_b = ws_on(&b, &carol, Some(from)).await;

    // Act: alice writes through A while bob writes through B.
    const EACH: usize = 20;
    let writes = |p: &'static str, token: String| {
        let (client, proc_, id) = (&client, if p == "a" { &a } else { &b }, &id);
        async move {
            for i in 0..EACH {
                let (s, t) = call(
                    client,
                    proc_,
                    Method::POST,
                    "/api/tasks/",
                    &token,
                    Some(json!({"title": format!("From {p} {i}"), "project": id})),
                )
                .await;
                assert_eq!(s, StatusCode::CREATED, "{t}");
                let (s, t) = call(
                    client,
                    proc_,
                    Method::PATCH,
                    &format!("/api/tasks/{}/", t["id"]),
                    &token,
                    Some(json!({"completed": true})),
                )
                .await;
                assert_eq!(s, StatusCode::OK, "{t}");
            }
        }
    };
    tokio::join!(writes("a", alice.clone()), writes("b", bob.clone()));

    // Assert: every change, each once, in order, under carol's gapless ids.
    let total = (EACH * 4) as i64;
    let events = carol_on_b.events_through(from + total).await;
    assert_eq!(
        ids(&events),
        ((from + 1)..=(from + total)).collect::<Vec<_>>()
    );
    for p in ["a", "b"] {
        let mine: Vec<(String, String)> = events
            .iter()
            .filter(|e| {
                e["task"]["title"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("From {p}"))
            })
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["task"]["title"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = (0..EACH)
            .flat_map(|i| {
                let title = format!("From {p} {i}");
                [
                    ("create".to_owned(), title.clone()),
                    ("update".to_owned(), title),
                ]
            })
            .collect();
        assert_eq!(mine, expected, "{p}'s changes in the order they were made");
    }
    assert!(
        events
            .iter()
            .all(|e| e["task"]["user"].get("email").is_none()),
        "carol never sees another member's email"
    );

    // Act: alice removes carol through A; both keep writing.
    let carol_id = {
        let (_, me) = call(&client, &a, Method::GET, "/api/users/me/", &carol, None).await;
        me["id"].clone()
    };
    let (s, r) = call(
        &client,
        &a,
        Method::DELETE,
        &format!("/api/projects/{id}/members/{carol_id}/"),
        &alice,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{r}");
    let removed_at = Instant::now();
    let (after_a, after_b) = tokio::join!(
        call(
            &client,
            &a,
            Method::POST,
            "/api/tasks/",
            &alice,
            Some(json!({"title": "After removal a", "project": id}))
        ),
        call(
            &client,
            &b,
            Method::POST,
            "/api/tasks/",
            &bob,
            Some(json!({"title": "After removal b", "project": id}))
        ),
    );
    assert_eq!(
        (after_a.0, after_b.0),
        (StatusCode::CREATED, StatusCode::CREATED)
    );

    // Assert: carol's socket on B says she was removed, at once, and then nothing more.
    let removed = carol_on_b.next_json().await;
    assert_eq!(removed["action"], "project_removed", "{removed}");
    assert_eq!(removed["event_id"], from + total + 1);
    assert!(
        removed_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        removed_at.elapsed()
    );
    assert!(matches!(
        carol_on_b.next_within(Duration::from_millis(700)).await,
        WsNext::Timeout
    ));
    let (_, page) = call(
        &client,
        &a,
        Method::GET,
        &format!("/api/changes/?since={from}&limit=1000"),
        &carol,
        None,
    )
    .await;
    assert_eq!(page["cursor"], from + total + 1);
}
