//! A project's tasks are every member's: each member lists and reads them, editors
//! change and delete them (viewers are told the role they lack, strangers get 404), the
//! creator's email shows only to the creator, and every member's kept list stays true
//! after another member's change or new username, on any process.

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

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn members_see_each_others_project_tasks_without_the_creators_email() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, _) = app.user("dave").await;
    let alice_id = my_id(&app, &alice).await;
    let id = new_project(&app, &alice, "Shared").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "editor").await;
    add_member(&app, &alice, &id, "carol", &carol, "viewer").await;

    create(&app, &alice, json!({"title": "Alice personal"})).await;
    let shared = create(
        &app,
        &alice,
        json!({"title": "Alice shared", "project": id}),
    )
    .await;
    assert_eq!(shared["user"]["email"], "alice@example.com");
    create(&app, &bob, json!({"title": "Bob shared", "project": id})).await;
    create(&app, &bob, json!({"title": "Bob personal"})).await;

    // Each member lists their own personal tasks and every task of the project.
    let list = app.list_tasks(&bob, "").await.json();
    assert_eq!(
        titles(&list),
        ["Alice shared", "Bob shared", "Bob personal"]
    );
    assert_eq!(
        list[0]["user"],
        json!({"id": alice_id, "username": "alice"}),
        "another member's task shows no email"
    );
    assert_eq!(list[1]["user"]["email"], "bob@example.com");
    let list = app.list_tasks(&carol, "").await.json();
    assert_eq!(titles(&list), ["Alice shared", "Bob shared"]);
    assert!(list[1]["user"].get("email").is_none(), "{list}");
    let list = app.list_tasks(&alice, "").await.json();
    assert_eq!(
        titles(&list),
        ["Alice personal", "Alice shared", "Bob shared"]
    );
    assert_eq!(list[1]["user"]["email"], "alice@example.com");
    assert!(list[2]["user"].get("email").is_none(), "{list}");
    // The filters narrow the same set.
    let list = app.list_tasks(&bob, &format!("?project={id}")).await.json();
    assert_eq!(titles(&list), ["Alice shared", "Bob shared"]);
    let list = app.list_tasks(&bob, "?project=none").await.json();
    assert_eq!(titles(&list), ["Bob personal"]);
    assert_eq!(titles(&app.list_tasks(&dave, "").await.json()).len(), 0);
    let r = app.list_tasks(&dave, &format!("?project={id}")).await;
    assert_eq!(titles(&r.json()).len(), 0, "{}", r.text);

    // Reading: any member; a stranger gets 404 as for another user's task.
    let task = format!("/api/tasks/{}/", shared["id"]);
    let r = app.get(&task, &carol).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json()["user"],
        json!({"id": alice_id, "username": "alice"})
    );
    let r = app.get(&task, &dave).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json()["detail"], "No Task matches the given query.");
    // Writing: a viewer is told the role, a stranger gets 404, an editor may.
    for method in [Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"completed": true}));
        let r = app
            .call(method.clone(), &task, Some(&carol), body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.json()["detail"], "This needs the editor role or higher.");
        let r = app.call(method, &task, Some(&dave), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
    let r = app
        .call(
            Method::PATCH,
            &task,
            Some(&bob),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["completed"], true);
    assert_eq!(
        r.json()["user"],
        json!({"id": alice_id, "username": "alice"}),
        "the creator stays the task's user"
    );
    let r = app.get(&task, &alice).await;
    assert_eq!(r.json()["user"]["email"], "alice@example.com");
    assert_eq!(r.json()["completed"], true);
    let r = app.call(Method::DELETE, &task, Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&task, &alice).await.status, StatusCode::NOT_FOUND);

    // A member who leaves no longer sees the project's tasks, even their own.
    let bob_id = my_id(&app, &bob).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{bob_id}/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        titles(&app.list_tasks(&bob, "").await.json()),
        ["Bob personal"]
    );
    assert_eq!(
        titles(&app.list_tasks(&carol, "").await.json()),
        ["Bob shared"]
    );
}

#[tokio::test]
async fn every_members_next_list_shows_another_members_change_and_new_username() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let id = new_project(&app, &alice, "Shared").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "editor").await;
    let bob_id = my_id(&app, &bob).await;
    let task = create(
        &app,
        &bob,
        json!({"title": "Bob's shared", "project": id, "assignee": bob_id}),
    )
    .await;
    // alice's list is rendered and kept.
    let first = app.list_tasks(&alice, "").await;
    assert_eq!(first.json()[0]["completed"], false);
    assert_eq!(app.list_tasks(&alice, "").await.text, first.text);

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{}/", task["id"]),
            Some(&bob),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.list_tasks(&alice, "").await.json()[0]["completed"],
        true
    );

    // bob's new username shows in alice's next list, as creator and as assignee.
    let r = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(&bob),
            Some(json!({"username": "robert", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = app.list_tasks(&alice, "").await.json();
    assert_eq!(list[0]["user"]["username"], "robert", "{list}");
    assert_eq!(list[0]["assignee"]["username"], "robert", "{list}");
}

#[tokio::test]
async fn a_new_username_reaches_a_co_members_kept_list_on_another_process() {
    // Two processes on one database, no Redis: each keeps its own pages.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let a = spawn_tasklane(&db, &[]);
    let b = spawn_tasklane(&db, &[]);
    let client = reqwest::Client::new();
    let alice = user_on(&client, &a, "alice1").await;
    let bob = user_on(&client, &a, "bob1").await;
    let call = |p: &Proc, method: Method, path: &str, token: &str, body: Option<Value>| {
        let mut r = client.request(method, p.url(path)).bearer_auth(token);
        if let Some(body) = body {
            r = r.json(&body);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, project) = call(
        &a,
        Method::POST,
        "/api/projects/",
        &alice,
        Some(json!({"name": "P"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = project["id"].clone();
    let (s, inv) = call(
        &a,
        Method::POST,
        &format!("/api/projects/{id}/invitations/"),
        &alice,
        Some(json!({"username": "bob1", "role": "editor"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let (s, _) = call(
        &a,
        Method::POST,
        &format!("/api/invitations/{}/accept/", inv["id"]),
        &bob,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &a,
        Method::POST,
        "/api/tasks/",
        &bob,
        Some(json!({"title": "Bob's shared", "project": id})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // alice's list is kept on B.
    for _ in 0..2 {
        let (_, list) = call(&b, Method::GET, "/api/tasks/", &alice, None).await;
        assert_eq!(list[0]["user"]["username"], "bob1", "{list}");
    }
    // bob renames himself through A.
    let (s, me) = call(
        &a,
        Method::PATCH,
        "/api/users/me/",
        &bob,
        Some(json!({"username": "robert1", "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    let (_, list) = call(&b, Method::GET, "/api/tasks/", &alice, None).await;
    assert_eq!(list[0]["user"]["username"], "robert1", "{list}");
}
