//! Incremental sync: every change writes its event in the outbox, and
//! `GET /api/changes/` pages through it with a cursor, in pages bounded in bytes.

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::Value;
use serde_json::json;

use crate::helpers::*;

use super::slow_readers::big_task;

#[tokio::test]
async fn every_change_writes_its_event_in_the_outbox() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Evented task").await;
    let path = format!("/api/tasks/{}/", t["id"]);
    app.call(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"completed": true})),
    )
    .await;
    app.call(Method::DELETE, &path, Some(&token), None).await;
    let rows = db(&app)
        .await
        .rows("SELECT action, task FROM events ORDER BY seq", &[])
        .await;
    let actions: Vec<&str> = rows.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    let deleted: Value = serde_json::from_str(rows[2][1].as_deref().unwrap()).unwrap();
    assert_eq!(deleted["completed"], true);
    assert_eq!(deleted["title"], "Evented task");
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
    let c = db(&app).await;
    c.execute("UPDATE users SET events_pruned_through = 3", &[])
        .await;
    c.execute("DELETE FROM events WHERE seq <= 3", &[]).await;
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
async fn a_page_of_changes_is_bounded_in_bytes() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for chunk in 0..13 {
        let writes = (0..8).map(|i| app.create_task(&token, big_task(chunk * 8 + i)));
        for r in futures_util::future::join_all(writes).await {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
    }
    // 104 events of ~60 KB: more than a page may hold, though the limit allows them.
    let page = app.get("/api/changes/?since=0&limit=1000", &token).await;
    assert!(
        page.text.len() < 2 << 20,
        "a page of {} bytes",
        page.text.len()
    );
    let page = page.json();
    let got = page["events"].as_array().unwrap().len() as i64;
    assert!((1..104).contains(&got), "{got} events");
    assert_eq!(page["more"], true);
    assert_eq!(page["cursor"], got);
    let rest = app
        .get(&format!("/api/changes/?since={got}&limit=1000"), &token)
        .await
        .json();
    assert_eq!(rest["events"][0]["event_id"], got + 1);
}
