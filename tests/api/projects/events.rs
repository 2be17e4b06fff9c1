//! Membership changes reach the affected members as events, on their WebSocket and in
//! `/api/changes/`, each under the member's own gapless event ids: `project` (joined,
//! renamed, re-roled, transferred) with the project as they see it, `project_removed`
//! with `{"id"}`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_member, my_id, new_project};
use crate::helpers::*;

#[tokio::test]
async fn a_member_hears_of_joining_changes_and_removal() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    // bob has an event of his own first: project events follow it gaplessly.
    app.new_task(&bob, "Bob's own task").await;
    let mut ws = app.ws(&bob, Some(1)).await;

    let id = new_project(&app, &alice, "Live").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "viewer").await;
    let joined = ws.next_json().await;
    assert_eq!(joined["event_id"], 2, "{joined}");
    assert_eq!(joined["action"], "project");
    assert_eq!(joined["task"]["id"], id);
    assert_eq!(joined["task"]["role"], "viewer");
    assert_eq!(joined["task"]["member_count"], 2);

    let bob_id = my_id(&app, &bob).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{id}/members/{bob_id}/"),
            Some(&alice),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reroled = ws.next_json().await;
    assert_eq!(
        (reroled["event_id"].clone(), reroled["action"].clone()),
        (json!(3), json!("project"))
    );
    assert_eq!(reroled["task"]["role"], "editor");

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{id}/"),
            Some(&alice),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let renamed = ws.next_json().await;
    assert_eq!(renamed["event_id"], 4);
    assert_eq!(renamed["task"]["name"], "Renamed");
    // Each member sees the project with their own role.
    assert_eq!(renamed["task"]["role"], "editor");

    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{bob_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let removed = ws.next_json().await;
    assert_eq!(removed["event_id"], 5);
    assert_eq!(removed["action"], "project_removed");
    assert_eq!(removed["task"], json!({ "id": id }));

    // The same, gapless, in /api/changes/.
    let page = app.get("/api/changes/?since=1", &bob).await.json();
    let events = page["events"].as_array().unwrap();
    let actions: Vec<_> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["project", "project", "project", "project_removed"]
    );
    assert_eq!(ids(events), [2, 3, 4, 5]);
    assert_eq!(page["cursor"], 5);

    // The owner's own stream has its events too (created, renamed).
    let page = app.get("/api/changes/?since=0", &alice).await.json();
    let actions: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["project", "project"]);
}

#[tokio::test]
async fn deletion_and_transfer_reach_every_member() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let id = new_project(&app, &alice, "Doomed").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "admin").await;
    add_member(&app, &alice, &id, "carol", &carol, "viewer").await;
    let mut carol_ws = app.ws(&carol, Some(1)).await;
    let bob_id = my_id(&app, &bob).await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/transfer/"),
            Some(&alice),
            Some(json!({"user_id": bob_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let moved = carol_ws.next_json().await;
    assert_eq!(moved["action"], "project");
    assert_eq!(moved["task"]["owner"]["username"], "bob");
    assert_eq!(moved["task"]["role"], "viewer");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let gone = carol_ws.next_json().await;
    assert_eq!(gone["action"], "project_removed");
    assert_eq!(gone["task"]["id"], id);
    for token in [&alice, &bob] {
        let page = app.get("/api/changes/?since=0", token).await.json();
        let last = page["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["action"], "project_removed");
    }
}
