//! The operator's `tasklane project list|transfer`, and the schema migration that adds
//! projects to a database of the previous version, its events kept.

use std::sync::Arc;

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

/// The SQLite schema as the previous release left it (steps 1 to 6).
const SQLITE_BEFORE: &[&str] = &[
    include_str!("../../../schema.sql"),
    include_str!("../../../src/store/sqlite/migrations/0002_credentials.sql"),
    include_str!("../../../src/store/sqlite/migrations/0003_throttles.sql"),
    include_str!("../../../src/store/sqlite/migrations/0004_credentials_generation.sql"),
    include_str!("../../../src/store/sqlite/migrations/0005_stream_tickets.sql"),
    include_str!("../../../src/store/sqlite/migrations/0006_account_purge.sql"),
];

/// The PostgreSQL schema as the previous release left it (steps 1 to 5).
const POSTGRES_BEFORE: &[&str] = &[
    include_str!("../../../src/store/postgres/migrations/0001_schema.sql"),
    include_str!("../../../src/store/postgres/migrations/0002_throttles.sql"),
    include_str!("../../../src/store/postgres/migrations/0003_credentials_generation.sql"),
    include_str!("../../../src/store/postgres/migrations/0004_stream_tickets.sql"),
    include_str!("../../../src/store/postgres/migrations/0005_account_purge.sql"),
];

#[tokio::test]
async fn a_database_of_the_previous_version_migrates_with_its_events() {
    // An account with a task and its event, written the old way; then the server starts.
    let dir = TestDir::new().await;
    let app_seeded = {
        let args = test_args(&dir);
        let dir = Arc::new(dir);
        match &dir.pg {
            Some(pg) => {
                let c = pg_connect(&pg.url).await;
                c.batch_execute(
                    "CREATE TABLE tasklane_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                )
                .await
                .unwrap();
                for (i, sql) in POSTGRES_BEFORE.iter().enumerate() {
                    c.batch_execute(sql).await.unwrap();
                    c.execute(
                        "INSERT INTO tasklane_migrations VALUES ($1, 'then')",
                        &[&(i as i32 + 1)],
                    )
                    .await
                    .unwrap();
                }
                c.batch_execute(SEED).await.unwrap();
            }
            None => {
                let c = rusqlite::Connection::open(args.db.clone()).unwrap();
                for sql in SQLITE_BEFORE {
                    c.execute_batch(sql).unwrap();
                }
                c.execute_batch(SEED).unwrap();
                c.pragma_update(None, "user_version", 6).unwrap();
            }
        }
        start(dir, args).await
    };
    let app = app_seeded;
    let t = db(&app).await;
    assert_eq!(t.int("SELECT COUNT(*) FROM events", &[]).await, 1);
    assert_eq!(t.text("SELECT action FROM events", &[]).await, "create");
    assert_eq!(
        t.int("SELECT COUNT(*) FROM tasks WHERE project_id IS NULL", &[])
            .await,
        1
    );
    // The new actions are accepted, the rest still refused.
    let (token, _) = app.user("alice").await;
    new_project(&app, &token, "After the upgrade").await;
    let page = app.get("/api/changes/?since=0", &token).await.json();
    assert_eq!(page["events"][0]["action"], "project");
    let bad = "INSERT INTO events (user_id, seq, action, task_id, task, at) \
               VALUES (1000, 99, 'bogus', 1, '{}', 'now')";
    let refused = match &app_dir_pg(&app) {
        Some(url) => pg_connect(url).await.batch_execute(bad).await.is_err(),
        None => rusqlite::Connection::open(app.db_path())
            .unwrap()
            .execute_batch(bad)
            .is_err(),
    };
    assert!(refused, "the CHECK still holds");
}

fn app_dir_pg(app: &TestApp) -> Option<String> {
    let flags = app.db_flags();
    let i = flags.iter().position(|f| f == "--database-url")?;
    flags.get(i + 1).cloned()
}

/// One account, one task, its event: rows as the previous release wrote them.
const SEED: &str = "
INSERT INTO users (id, username, email, password_hash, created_at, event_seq)
    VALUES (1000, 'old', 'old@example.com', 'x', '2026-01-01T00:00:00.000000Z', 1);
INSERT INTO tasks (id, user_id, title, created_at, updated_at)
    VALUES (1000, 1000, 'Old task', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
INSERT INTO events (user_id, seq, action, task_id, task, at)
    VALUES (1000, 1, 'create', 1000, '{}', '2026-01-01T00:00:00.000000Z');
";
