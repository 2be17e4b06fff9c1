//! Every change to a project's task reaches every member, on their WebSocket and in
//! `/api/changes/`, under their own gapless event ids, with the task as they see it
//! (the creator's email only for the creator); a move is a `create` or `delete` to those
//! it brings the task to or takes it from; a removed member gets nothing more of the
//! project; and a member removed while writing can never write after the removal.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{add_member, my_id, new_project};
use crate::helpers::*;

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app
        .call(Method::POST, "/api/tasks/", Some(token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

async fn patch(app: &TestApp, token: &str, id: &Value, body: Value) -> Resp {
    app.call(
        Method::PATCH,
        &format!("/api/tasks/{id}/"),
        Some(token),
        Some(body),
    )
    .await
}

/// The user's last event id.
async fn cursor(app: &TestApp, token: &str) -> i64 {
    let page = app
        .get("/api/changes/?since=0&limit=1000", token)
        .await
        .json();
    page["cursor"].as_i64().unwrap()
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_member_gets_each_change_under_their_own_gapless_ids() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    // Different histories first, so each member's ids differ.
    app.new_task(&carol, "Carol's own task").await;
    app.new_task(&carol, "Carol's second task").await;
    let id = new_project(&app, &alice, "Live").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "editor").await;
    add_member(&app, &alice, &id, "carol", &carol, "viewer").await;
    let carol_from = cursor(&app, &carol).await;
    let bob_from = cursor(&app, &bob).await;
    let mut carol_ws = app.ws(&carol, Some(carol_from)).await;

    let task = create(&app, &alice, json!({"title": "Shared work", "project": id})).await;
    let r = patch(&app, &bob, &task["id"], json!({"completed": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tasks/{}/", task["id"]),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let events = carol_ws.events_through(carol_from + 3).await;
    assert_eq!(
        ids(&events),
        [carol_from + 1, carol_from + 2, carol_from + 3]
    );
    assert_eq!(actions(&events), ["create", "update", "delete"]);
    for e in &events {
        assert_eq!(e["task"]["id"], task["id"]);
        assert_eq!(e["task"]["user"]["username"], "alice");
        assert!(e["task"]["user"].get("email").is_none(), "{e}");
    }
    assert_eq!(events[1]["task"]["completed"], true);
    // The same in every member's /api/changes/, each under their own ids.
    for (token, from) in [(&carol, carol_from), (&bob, bob_from)] {
        let page = app
            .get(&format!("/api/changes/?since={from}"), token)
            .await
            .json();
        let events = page["events"].as_array().unwrap();
        assert_eq!(ids(events), [from + 1, from + 2, from + 3]);
        assert_eq!(actions(events), ["create", "update", "delete"]);
    }
    // The creator's own copy carries her email.
    let page = app.get("/api/changes/?since=0", &alice).await.json();
    let mine: Vec<&Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["task"]["id"] == task["id"] && e["action"] != "project")
        .collect();
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter()
            .all(|e| e["task"]["user"]["email"] == "alice@example.com")
    );
    let all_ids = ids(page["events"].as_array().unwrap());
    assert_eq!(all_ids, (1..=all_ids.len() as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_move_is_a_create_or_delete_to_those_it_brings_the_task_to_or_takes_it_from() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let one = new_project(&app, &alice, "One").await["id"].clone();
    let two = new_project(&app, &alice, "Two").await["id"].clone();
    add_member(&app, &alice, &one, "bob", &bob, "editor").await;
    add_member(&app, &alice, &two, "carol", &carol, "editor").await;
    let (a0, b0, c0) = (
        cursor(&app, &alice).await,
        cursor(&app, &bob).await,
        cursor(&app, &carol).await,
    );
    let task = create(&app, &alice, json!({"title": "Wandering task"})).await;
    let t = &task["id"];
    // Personal -> One -> Two -> personal.
    for target in [one.clone(), two.clone(), Value::Null] {
        let r = patch(&app, &alice, t, json!({"project": target})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // Into One again; bob (an editor there, not the creator) may not move it out to
    // alice's personal tasks, which are hers alone; she may.
    let r = patch(&app, &alice, t, json!({"project": one})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch(&app, &bob, t, json!({"project": null})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = patch(&app, &alice, t, json!({"project": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let changes = |token: String, from: i64| {
        let app = &app;
        async move {
            let page = app
                .get(&format!("/api/changes/?since={from}"), &token)
                .await
                .json();
            let events = page["events"].as_array().unwrap().clone();
            assert_eq!(
                ids(&events),
                ((from + 1)..=(from + events.len() as i64)).collect::<Vec<_>>()
            );
            actions(&events)
        }
    };
    assert_eq!(
        changes(alice.clone(), a0).await,
        ["create", "update", "update", "update", "update", "update"]
    );
    assert_eq!(
        changes(bob.clone(), b0).await,
        ["create", "delete", "create", "delete"]
    );
    assert_eq!(changes(carol.clone(), c0).await, ["create", "delete"]);
    let r = app.get(&format!("/api/tasks/{t}/"), &alice).await;
    assert_eq!(r.json()["project"], Value::Null);
    assert_eq!(r.json()["user"]["email"], "alice@example.com");
}

#[tokio::test]
async fn a_removed_member_gets_no_more_events_of_the_project() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let id = new_project(&app, &alice, "Live").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "viewer").await;
    let task = create(&app, &alice, json!({"title": "Shared work", "project": id})).await;
    let from = cursor(&app, &bob).await;
    let mut ws = app.ws(&bob, Some(from)).await;
    let bob_id = my_id(&app, &bob).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{bob_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for i in 0..5 {
        let r = patch(
            &app,
            &alice,
            &task["id"],
            json!({"title": format!("Edit number {i}")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    create(
        &app,
        &alice,
        json!({"title": "Another shared", "project": id}),
    )
    .await;
    let removed = ws.next_json().await;
    assert_eq!(removed["action"], "project_removed");
    assert_eq!(removed["event_id"], from + 1);
    assert!(matches!(
        ws.next_within(Duration::from_millis(500)).await,
        WsNext::Timeout
    ));
    assert_eq!(cursor(&app, &bob).await, from + 1);
}

#[tokio::test]
async fn a_member_removed_while_writing_never_writes_after_the_removal() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let id = new_project(&app, &alice, "Race").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "editor").await;
    let task = create(
        &app,
        &alice,
        json!({"title": "Contended task", "project": id}),
    )
    .await;
    let bob_id = my_id(&app, &bob).await;

    // bob writes as fast as he can while alice removes him.
    let t = task["id"].clone();
    let writer = async {
        let mut statuses = Vec::new();
        for i in 0..200 {
            let r = patch(&app, &bob, &t, json!({"title": format!("Bob edit {i}")})).await;
            statuses.push(r.status);
            if r.status == StatusCode::NOT_FOUND {
                break;
            }
        }
        statuses
    };
    let remover = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = app
            .call(
                Method::DELETE,
                &format!("/api/projects/{id}/members/{bob_id}/"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        // Whatever committed, committed before this answer.
        app.get(&format!("/api/tasks/{t}/"), &alice).await.json()["version"]
            .as_i64()
            .unwrap()
    };
    let (statuses, at_removal) = tokio::join!(writer, remover);
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count() as i64;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    assert_eq!(*statuses.last().unwrap(), StatusCode::NOT_FOUND);
    let last = app
        .get(&format!("/api/tasks/{}/", task["id"]), &alice)
        .await
        .json();
    assert_eq!(last["version"].as_i64().unwrap(), at_removal, "{last}");
    assert_eq!(at_removal, 1 + ok, "every accepted write, and only those");

    // Demoted, a member is refused at once, naming the role.
    add_member(&app, &alice, &id, "bob", &bob, "viewer").await;
    let r = patch(&app, &bob, &task["id"], json!({"completed": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}
