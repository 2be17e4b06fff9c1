//! Tasks inside projects: creating one in a project needs the editor role (404 for a
//! non-member), moving needs editor on both sides, and a project task's assignee is a
//! member.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{add_member, my_id, new_project};
use crate::helpers::*;

async fn create(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call(Method::POST, "/api/tasks/", Some(token), Some(body))
        .await
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

#[tokio::test]
async fn creating_in_a_project_needs_editor_and_membership() {
    let app = spawn_app().await;
    let (owner, _) = app.user("owner").await;
    let (editor, _) = app.user("editor").await;
    let (viewer, _) = app.user("viewer").await;
    let (stranger, _) = app.user("stranger").await;
    let id = new_project(&app, &owner, "Tasks").await["id"].clone();
    add_member(&app, &owner, &id, "editor", &editor, "editor").await;
    add_member(&app, &owner, &id, "viewer", &viewer, "viewer").await;

    for token in [&owner, &editor] {
        let r = create(&app, token, json!({"title": "Shared task", "project": id})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json()["project"], id);
    }
    let r = create(
        &app,
        &viewer,
        json!({"title": "Shared task", "project": id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["detail"], "This needs the editor role or higher.");
    for project in [id.clone(), json!(999_999)] {
        let r = create(
            &app,
            &stranger,
            json!({"title": "Shared task", "project": project}),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
    // A personal task still shows no project.
    let r = create(&app, &owner, json!({"title": "Personal one"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["project"], Value::Null);
    let r = create(
        &app,
        &owner,
        json!({"title": "Personal one", "project": null}),
    )
    .await;
    assert_eq!(r.json()["project"], Value::Null);
}

#[tokio::test]
async fn a_project_tasks_assignee_is_a_member() {
    let app = spawn_app().await;
    let (owner, _) = app.user("owner").await;
    let (editor, _) = app.user("editor").await;
    let (stranger, _) = app.user("stranger").await;
    let id = new_project(&app, &owner, "Tasks").await["id"].clone();
    add_member(&app, &owner, &id, "editor", &editor, "editor").await;
    let editor_id = my_id(&app, &editor).await;
    let stranger_id = my_id(&app, &stranger).await;

    let r = create(
        &app,
        &owner,
        json!({"title": "Shared task", "project": id, "assignee": editor_id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["assignee"]["id"], editor_id);
    assert_eq!(r.json()["assignee"]["username"], "editor");
    let task = r.json()["id"].clone();
    let r = create(
        &app,
        &owner,
        json!({"title": "Shared task", "project": id, "assignee": stranger_id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.json()["assignee"][0],
        "The assignee must be a member of the task's project."
    );
    let r = patch(&app, &owner, &task, json!({"assignee": stranger_id})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Moved out of the project, the task can only be assigned to its owner again.
    let r = patch(
        &app,
        &owner,
        &task,
        json!({"project": null, "assignee": editor_id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

#[tokio::test]
async fn moving_needs_editor_on_both_sides() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let editing = new_project(&app, &bob, "Editing").await["id"].clone();
    let viewing = new_project(&app, &bob, "Viewing").await["id"].clone();
    let foreign = new_project(&app, &bob, "Foreign").await["id"].clone();
    add_member(&app, &bob, &editing, "alice", &alice, "editor").await;
    add_member(&app, &bob, &viewing, "alice", &alice, "viewer").await;

    let r = create(&app, &alice, json!({"title": "Personal task"})).await;
    let task = r.json()["id"].clone();
    // Personal into a project where alice is a viewer: 403; one she is not in: 404.
    let r = patch(&app, &alice, &task, json!({"project": viewing})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["detail"], "This needs the editor role or higher.");
    let r = patch(&app, &alice, &task, json!({"project": foreign})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // Into one where she edits, then back out.
    let r = patch(&app, &alice, &task, json!({"project": editing})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["project"], editing);
    assert_eq!(r.json()["version"], 2);
    let r = patch(&app, &alice, &task, json!({"project": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["project"], Value::Null);

    // Once she is only a viewer there, she can neither change nor delete the task.
    let r = patch(&app, &alice, &task, json!({"project": editing})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let alice_id = my_id(&app, &alice).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{editing}/members/{alice_id}/"),
            Some(&bob),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch(&app, &alice, &task, json!({"completed": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = patch(&app, &alice, &task, json!({"project": null})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tasks/{task}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Reading it still works.
    let r = app.get(&format!("/api/tasks/{task}/"), &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["project"], editing);
}

#[tokio::test]
async fn the_list_filters_by_project_and_leaves_out_projects_left() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let one = new_project(&app, &bob, "One").await["id"].clone();
    let two = new_project(&app, &bob, "Two").await["id"].clone();
    add_member(&app, &bob, &one, "alice", &alice, "editor").await;
    add_member(&app, &bob, &two, "alice", &alice, "editor").await;
    let mut ids = Vec::new();
    for project in [Value::Null, one.clone(), two.clone()] {
        let r = create(
            &app,
            &alice,
            json!({"title": "Some task", "project": project}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json()["id"].clone());
    }
    let listed = |path: String| {
        let app = &app;
        let alice = &alice;
        async move {
            let r = app.get(&path, alice).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json()
                .as_array()
                .expect("array")
                .iter()
                .map(|t| t["id"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("/api/tasks/".into()).await, ids);
    assert_eq!(listed("/api/tasks/?project=none".into()).await, ids[..1]);
    assert_eq!(
        listed(format!("/api/tasks/?project={one}")).await,
        ids[1..2]
    );
    let r = app.get("/api/tasks/?project=first", &alice).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["project"][0], "Select a valid choice.");

    // Once alice leaves project two, its task is neither listed nor readable by her.
    let alice_id = my_id(&app, &alice).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{two}/members/{alice_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(listed("/api/tasks/".into()).await, ids[..2]);
    let r = app.get(&format!("/api/tasks/{}/", ids[2]), &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn the_creators_events_carry_the_project() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let id = new_project(&app, &alice, "Events").await["id"].clone();
    let r = create(&app, &alice, json!({"title": "Shared task", "project": id})).await;
    let task = r.json()["id"].clone();
    let r = patch(&app, &alice, &task, json!({"project": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let page = app.get("/api/changes/?since=0", &alice).await.json();
    let events = page["events"].as_array().expect("events");
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e["event_id"].clone(),
                e["action"].clone(),
                e["task"]["project"].clone(),
            )
        })
        .collect();
    // The project's own event first, then the task's: created in it, moved out.
    assert_eq!(
        seen,
        [
            (json!(1), json!("project"), Value::Null),
            (json!(2), json!("create"), id.clone()),
            (json!(3), json!("update"), Value::Null),
        ]
    );
}
