//! `tasklane backup`: a consistent, complete copy taken while the server writes; on
//! PostgreSQL, a pointer to `pg_dump`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_is_consistent_and_complete() {
    if skip_on_postgres("SQLite's online backup; PostgreSQL's is pg_dump (see the test below)") {
        return;
    }
    let app = Arc::new(spawn_app().await);
    let (token, _) = app.user("frank1").await;
    let description = "x".repeat(3000);
    let mut before = Vec::new();
    for i in 0..20 {
        let t = app
            .create_task(
                &token,
                json!({"title": format!("Before backup {i}"), "description": description}),
            )
            .await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
        before.push(t.json()["id"].as_i64().unwrap());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let (app, token, stop, written) =
            (app.clone(), token.clone(), stop.clone(), written.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let t = app
                    .create_task(
                        &token,
                        json!({"title": "During backup", "description": "y".repeat(2000)}),
                    )
                    .await;
                assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
                written.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let out = app.dir.path().join("backup.db");
    let out_arg = out.to_str().unwrap().to_owned();
    let db_path = app.db_path();
    let db_arg = db_path.to_str().unwrap();
    // Let the writer get going, then copy one page per step so writes land mid-copy.
    while written.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let at_start = written.load(Ordering::Relaxed);

    let run = tasklane(
        &[
            "backup",
            &out_arg,
            "--db",
            db_arg,
            "--pages-per-step",
            "1",
            "--step-pause",
            "2ms",
        ],
        None,
    )
    .await;
    let during = written.load(Ordering::Relaxed) - at_start;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");

    run.ok();
    assert!(run.stdout.contains("integrity check ok"), "{run:?}");
    assert!(during > 0, "the server kept writing during the backup");
    let copy = rusqlite::Connection::open(&out).expect("open backup");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the copy is one self-contained file");
    let users: Vec<String> = copy
        .prepare("SELECT username FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users, ["frank1"]);
    let ids: Vec<i64> = copy
        .prepare("SELECT id FROM tasks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        before.iter().all(|id| ids.contains(id)),
        "tasks from before the backup are in it"
    );
    assert!(
        ids.len() >= before.len() + at_start,
        "{} tasks in the copy",
        ids.len()
    );
    // A snapshot: ids are handed out in order, so the copy holds a prefix of them.
    let live_ids: Vec<i64> = db(&app)
        .await
        .rows("SELECT id FROM tasks ORDER BY id", &[])
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        live_ids.len() > ids.len(),
        "writes after the snapshot are not in the copy"
    );
    assert_eq!(ids, live_ids[..ids.len()]);
    drop(copy);
    let again = tasklane(&["backup", &out_arg, "--db", db_arg], None).await;
    let forced = tasklane(&["backup", &out_arg, "--db", db_arg, "--force"], None).await;
    again.failed();
    assert!(again.stderr.contains("already exists"), "{again:?}");
    forced.ok();
}

#[tokio::test]
async fn a_backup_of_a_postgresql_database_points_to_pg_dump() {
    let run = tasklane(
        &[
            "backup",
            "copy.db",
            "--database-url",
            "postgres://alice:hunter2@127.0.0.1:1/tasklane",
        ],
        None,
    )
    .await;
    run.failed();
    assert!(run.stderr.contains("pg_dump"), "{run:?}");
    assert!(run.stderr.contains("tasklane copy"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
    assert!(!std::path::Path::new("copy.db").exists());
}
