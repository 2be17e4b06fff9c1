//! Deleting an account that is in projects: refused (409, listing them) while it owns a
//! project with other members; otherwise it leaves every project in the deletion's
//! write (its tasks there go to each project's owner, its assignments end, its
//! invitations go, the remaining members hear of it), the projects it owned alone go in
//! the purge with their tasks, and it takes no event of any project from then on.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane::store::{Store, Synchronous};

use super::{add_member, invite, my_id, new_project};
use crate::helpers::*;

async fn delete_me(app: &TestApp, token: &str) -> Resp {
    app.call(
        Method::DELETE,
        "/api/users/me/",
        Some(token),
        Some(json!({ "password": PASSWORD })),
    )
    .await
}

/// A second store on the server's database (another process), which deletes without
/// purging.
async fn other_process(app: &TestApp) -> Store {
    match &app.args.database_url {
        Some(url) => Store::connect_postgres(url.expose(), 2).await.unwrap(),
        None => Store::open_sqlite(&app.db_path(), 2, Synchronous::Full).unwrap(),
    }
}

async fn new_task(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.create_task(token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

/// The caller's last event id.
async fn cursor(app: &TestApp, token: &str) -> i64 {
    let r = app.get("/api/changes/?since=0", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["cursor"].as_i64().expect("cursor")
}

#[tokio::test]
async fn owning_a_project_with_other_members_refuses_deletion_listing_them() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let team = new_project(&app, &alice, "Team").await["id"].clone();
    new_project(&app, &alice, "Alone").await;
    let other = new_project(&app, &alice, "Other team").await["id"].clone();
    add_member(&app, &alice, &team, "bob", &bob, "viewer").await;
    add_member(&app, &alice, &other, "carol", &carol, "admin").await;
    // A pending invitation alone does not make a project shared.
    let alone2 = new_project(&app, &alice, "Invited only").await["id"].clone();
    let r = invite(&app, &alice, &alone2, "carol", "viewer").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = delete_me(&app, &alice).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let body = r.json();
    assert_eq!(body["code"], "owns_shared_projects", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("transfer"),
        "{body}"
    );
    assert_eq!(
        body["projects"],
        json!([{"id": team, "name": "Team"}, {"id": other, "name": "Other team"}])
    );
    // The operator's command refuses the same way, naming them and the way out.
    let run = user(&app, &["delete", "--username", "alice", "--yes"], None).await;
    run.failed();
    assert!(run.stderr.contains("Other team"), "{run:?}");
    assert!(run.stderr.contains("tasklane project transfer"), "{run:?}");
    // Nothing was written: the account, its projects and its invitations are all there.
    assert_eq!(
        app.get("/api/users/me/", &alice).await.status,
        StatusCode::OK
    );
    let r = app.get("/api/projects/", &alice).await;
    assert_eq!(r.json().as_array().unwrap().len(), 4, "{}", r.text);
    let r = app.get("/api/invitations/", &carol).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.text);

    // Once the shared projects are handed over (or emptied), the deletion goes through.
    let bob_id = my_id(&app, &bob).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{team}/members/{bob_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let carol_id = my_id(&app, &carol).await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{other}/transfer/"),
            Some(&alice),
            Some(json!({ "user_id": carol_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = delete_me(&app, &alice).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // carol keeps the project she was given; alice is no longer in it.
    let r = app
        .get(&format!("/api/projects/{other}/members/"), &carol)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let members: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(members, [json!(carol_id)]);
    // The invitation alice sent went with her.
    let r = app.get("/api/invitations/", &carol).await;
    assert_eq!(r.json(), json!([]), "{}", r.text);
}

#[tokio::test]
async fn a_deleted_account_leaves_its_projects_and_its_own_go_with_it() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, _) = app.user("dave").await;
    let alice_id = my_id(&app, &alice).await;
    let bob_id = my_id(&app, &bob).await;
    let carol_id = my_id(&app, &carol).await;
    let team = new_project(&app, &alice, "Team").await["id"].clone();
    add_member(&app, &alice, &team, "bob", &bob, "admin").await;
    add_member(&app, &alice, &team, "carol", &carol, "viewer").await;
    // bob's work in the team: a task he created (assigned to himself), one assigned to him.
    let made = new_task(
        &app,
        &bob,
        json!({"title": "Bob's team task", "project": team, "assignee": bob_id}),
    )
    .await;
    let given = new_task(
        &app,
        &alice,
        json!({"title": "Alice's task for bob", "project": team, "assignee": bob_id}),
    )
    .await;
    // Invitations bob sent (as the team's admin) and received.
    let (erin, _) = app.user("erin").await;
    let r = invite(&app, &bob, &team, "erin", "viewer").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let daves = new_project(&app, &dave, "Dave's").await["id"].clone();
    let r = invite(&app, &dave, &daves, "bob", "editor").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // bob's own project, with a task of his and one by a member who has since left, and
    // an invitation to carol.
    let solo = new_project(&app, &bob, "Bob's own").await["id"].clone();
    new_task(
        &app,
        &bob,
        json!({"title": "Bob's solo task", "project": solo}),
    )
    .await;
    add_member(&app, &bob, &solo, "dave", &dave, "editor").await;
    new_task(
        &app,
        &dave,
        json!({"title": "Dave's leftover", "project": solo}),
    )
    .await;
    let dave_id = my_id(&app, &dave).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{solo}/members/{dave_id}/"),
            Some(&dave),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = invite(&app, &bob, &solo, "carol", "viewer").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // alice's list, rendered and kept before the deletion.
    let r = app.list_tasks(&alice, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let since = cursor(&app, &carol).await;
    let mut carol_ws = app.ws(&carol, Some(since)).await;
    let alice_since = cursor(&app, &alice).await;

    let r = delete_me(&app, &bob).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // The remaining members hear of it: the project, one member fewer.
    let heard = carol_ws.next_json().await;
    assert_eq!(heard["event_id"], since + 1, "{heard}");
    assert_eq!(heard["action"], "project");
    assert_eq!(heard["task"]["id"], team);
    assert_eq!(heard["task"]["member_count"], 2);
    let page = app
        .get(&format!("/api/changes/?since={alice_since}"), &alice)
        .await
        .json();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["action"], "project");
    assert_eq!(events[0]["task"]["member_count"], 2);

    let r = app
        .get(&format!("/api/projects/{team}/members/"), &alice)
        .await;
    let members: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(members, [json!(alice_id), json!(carol_id)]);
    // The team's work stays, its owner the creator, nobody the assignee.
    let r = app
        .get(&format!("/api/tasks/{}/", made["id"]), &alice)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = r.json();
    assert_eq!(t["user"]["id"], alice_id, "{t}");
    assert_eq!(t["project"], team);
    assert_eq!(t["assignee"], Value::Null);
    assert_eq!(t["version"], made["version"].as_i64().unwrap() + 1, "{t}");
    let r = app
        .get(&format!("/api/tasks/{}/", given["id"]), &alice)
        .await;
    assert_eq!(r.json()["assignee"], Value::Null, "{}", r.text);
    // alice's next list shows them so (her list's validator moved with her event).
    let r = app.list_tasks(&alice, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let listed = r.json();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == made["id"])
        .unwrap_or_else(|| panic!("the taken-over task is listed: {listed}"));
    assert_eq!(mine["user"]["id"], alice_id);
    assert_eq!(mine["assignee"], Value::Null);
    // Its invitations, sent and received, are gone.
    let r = app
        .get(&format!("/api/projects/{team}/invitations/"), &alice)
        .await;
    assert_eq!(r.json(), json!([]), "{}", r.text);
    let r = app
        .get(&format!("/api/projects/{daves}/invitations/"), &dave)
        .await;
    assert_eq!(r.json(), json!([]), "{}", r.text);
    assert_eq!(app.get("/api/invitations/", &erin).await.json(), json!([]));
    assert_eq!(app.get("/api/invitations/", &carol).await.json(), json!([]));

    // The purge took its own project with every task in it, and left nothing behind.
    let c = db(&app).await;
    let solo_id = solo.as_i64().unwrap();
    for _ in 0..50 {
        if c.int("SELECT count(*) FROM users WHERE id = ?1", &[&bob_id])
            .await
            == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.int("SELECT count(*) FROM users WHERE id = ?1", &[&bob_id])
            .await,
        0
    );
    assert_eq!(
        c.int("SELECT count(*) FROM projects WHERE id = ?1", &[&solo_id])
            .await,
        0
    );
    assert_eq!(
        c.int(
            "SELECT count(*) FROM tasks WHERE project_id = ?1",
            &[&solo_id]
        )
        .await,
        0
    );
    for (sql, what) in [
        (
            "SELECT count(*) FROM tasks WHERE user_id = ?1 OR assignee_id = ?1",
            "tasks",
        ),
        (
            "SELECT count(*) FROM project_members WHERE user_id = ?1",
            "memberships",
        ),
        (
            "SELECT count(*) FROM project_invitations WHERE inviter_id = ?1 OR invitee_id = ?1",
            "invitations",
        ),
        (
            "SELECT count(*) FROM projects WHERE owner_id = ?1",
            "projects",
        ),
        ("SELECT count(*) FROM events WHERE user_id = ?1", "events"),
    ] {
        assert_eq!(c.int(sql, &[&bob_id]).await, 0, "{what}");
    }
    // The team goes on: its tasks list and change, a new project gets a fresh id.
    assert_eq!(
        c.int(
            "SELECT count(*) FROM tasks WHERE project_id = ?1",
            &[&team.as_i64().unwrap()]
        )
        .await,
        2
    );
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{}/", made["id"]),
            Some(&alice),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let next = new_project(&app, &alice, "Next").await;
    assert!(next["id"].as_i64().unwrap() > solo_id, "{next}");
}

#[tokio::test]
async fn a_deleted_account_takes_no_more_project_events() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let bob_id = my_id(&app, &bob).await;
    let team = new_project(&app, &alice, "Team").await["id"].clone();
    add_member(&app, &alice, &team, "bob", &bob, "editor").await;
    add_member(&app, &alice, &team, "carol", &carol, "editor").await;
    new_task(
        &app,
        &bob,
        json!({"title": "Bob's team task", "project": team}),
    )
    .await;
    let mut bob_ws = app.ws(&bob, Some(0)).await;
    let c = db(&app).await;
    let bobs_events = || async {
        c.int("SELECT count(*) FROM events WHERE user_id = ?1", &[&bob_id])
            .await
    };

    // Another process deletes bob and purges nothing: his rows stay a while.
    let elsewhere = other_process(&app).await;
    let events = elsewhere
        .delete_account(bob_id)
        .await
        .unwrap()
        .expect("deleted");
    // The deletion writes events for the remaining members, none for him.
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.user_id != bob_id), "{events:?}");
    let kept = bobs_events().await;
    assert!(kept > 0, "his outbox is not purged yet");
    // His stream ends (the server notices within its account cache's second).
    loop {
        match bob_ws.next_within(Duration::from_secs(5)).await {
            WsNext::Json(_) => continue,
            WsNext::Closed(..) => break,
            WsNext::Timeout => panic!("bob's stream stays open after his deletion"),
        }
    }

    // The project goes on, through every kind of change: not one more row for him.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{team}/"),
            Some(&alice),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    new_task(
        &app,
        &carol,
        json!({"title": "Carol's team task", "project": team}),
    )
    .await;
    let carol_id = my_id(&app, &carol).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{team}/members/{carol_id}/"),
            Some(&alice),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{team}/transfer/"),
            Some(&alice),
            Some(json!({"user_id": carol_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{team}/"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(bobs_events().await, kept);
    // And the purge, when it comes, leaves nothing of his.
    elsewhere.purge_deleted_accounts().await.unwrap();
    assert_eq!(bobs_events().await, 0);
}
