//! Incremental sync: `GET /api/changes/` pages through the outbox with a cursor.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

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
