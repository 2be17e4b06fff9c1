//! The operator's `tasklane project list|transfer`, and the schema migration that adds
//! projects to a database of the previous version, its events kept.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_member, new_project};
use crate::helpers::*;

async fn project_cli(app: &TestApp, args: &[&str]) -> Run {
    let db = app.db_flags();
    let mut all = vec!["project"];
    all.extend_from_slice(args);
    all.extend(db.iter().map(String::as_str));
    tasklane(&all, None).await
}

#[tokio::test]
async fn the_operator_lists_and_transfers_projects() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let id = new_project(&app, &alice, "Orphaned").await["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "viewer").await;

    let run = project_cli(&app, &["list", "--username", "bob"]).await;
    run.ok();
    assert!(run.stdout.contains("Orphaned"), "{}", run.stdout);
    assert!(run.stdout.contains("viewer"), "{}", run.stdout);
    let run = project_cli(&app, &["list", "--username", "bob", "--json"]).await;
    run.ok();
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed[0]["owner"]["username"], "alice");

    // To any member, whatever their role: the owner is gone.
    let run = project_cli(
        &app,
        &["transfer", "--project", &id.to_string(), "--to", "bob"],
    )
    .await;
    run.ok();
    assert!(run.stdout.contains("now belongs to bob"), "{}", run.stdout);
    let p = app.get(&format!("/api/projects/{id}/"), &bob).await.json();
    assert_eq!(p["role"], "owner");
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &alice)
            .await
            .json()["role"],
        "admin"
    );
    // bob hears of it through the outbox.
    let page = app.get("/api/changes/?since=0", &bob).await.json();
    let last = page["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["task"]["role"], "owner");

    project_cli(&app, &["transfer", "--project", "999999", "--to", "bob"])
        .await
        .failed();
    project_cli(&app, &["list", "--username", "nobody"])
        .await
        .failed();
}

#[test]
fn the_previous_releases_steps_are_as_released() {
    // A database made by the release was made by these files as they were then: a step
    // edited in place would make these tests start from a schema no one has.
    let steps = SQLITE_RELEASED.iter().chain(POSTGRES_RELEASED);
    assert_eq!(steps.clone().count(), RELEASED_DIGESTS.len());
    for ((path, text), (pinned_path, digest)) in steps.zip(RELEASED_DIGESTS) {
        assert_eq!(path, pinned_path);
        assert_eq!(
            tasklane::auth::hash_api_token(text),
            *digest,
            "{path} changed since its release: never edit a released migration, add a step"
        );
    }
}

#[tokio::test]
async fn a_database_of_the_previous_release_migrates_and_keeps_working() {
    // Tasks, events and an API token, written by the previous release; then today's
    // server starts on it.
    let dir = TestDir::new().await;
    previous_release_database(&dir).await;
    let args = test_args(&dir);
    let app = start(Arc::new(dir), args).await;
    let t = db(&app).await;
    assert_eq!(t.int("SELECT COUNT(*) FROM events", &[]).await, 3);
    assert_eq!(
        t.int("SELECT COUNT(*) FROM tasks WHERE project_id IS NULL", &[])
            .await,
        3
    );

    // The old password logs in, the old token works, the old tasks list.
    let r = app.login("olduser", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json()["access"].as_str().unwrap().to_owned();
    let r = app.get("/api/tasks/?ordering=id", OLD_API_TOKEN).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let titles: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(
        titles,
        [
            json!("A task from before"),
            json!("Another task from before")
        ]
    );
    // The new actions are accepted and follow the old events gaplessly.
    let id = new_project(&app, &token, "After the upgrade").await["id"].clone();
    let r = app
        .call(
            Method::PATCH,
            "/api/tasks/2/",
            Some(&token),
            Some(json!({"project": id, "assignee": 1, "due_at": "2027-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["project"], id);
    assert_eq!(r.json()["version"], 2);
    let page = app.get("/api/changes/?since=0", &token).await.json();
    let events = page["events"].as_array().unwrap();
    let actions: Vec<_> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "create", "project", "update"], "{page}");
    assert_eq!(ids(events), [1, 2, 3, 4]);
    // New rows take ids past the old ones.
    let (fresh, _) = app.user("fresh").await;
    assert_eq!(super::my_id(&app, &fresh).await, 3);
    assert_eq!(app.new_task(&fresh, "A task after").await["id"], 4);
    // The CHECK on actions still refuses the rest.
    let bad = "INSERT INTO events (user_id, seq, action, task_id, task, at) \
               VALUES (2, 99, 'bogus', 1, '{}', 'now')";
    let refused = match &app_dir_pg(&app) {
        Some(url) => pg_connect(url).await.batch_execute(bad).await.is_err(),
        None => rusqlite::Connection::open(app.db_path())
            .unwrap()
            .execute_batch(bad)
            .is_err(),
    };
    assert!(refused, "the CHECK still holds");
    // And the old account can go, with its project.
    let r = app
        .call(
            Method::DELETE,
            "/api/users/me/",
            Some(&token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

fn app_dir_pg(app: &TestApp) -> Option<String> {
    let flags = app.db_flags();
    let i = flags.iter().position(|f| f == "--database-url")?;
    flags.get(i + 1).cloned()
}
