//! Durable acknowledged writes: every write the API acknowledges was synced to stable
//! storage before its answer, concurrent writes share syncs (group commit), and a SIGKILL
//! in the middle of writes loses none of them. Syncs are counted by a SQLite VFS shim
//! ([`crate::helpers::sync_count`]) that makes each sync slow and counts it only once
//! done, so an answer sent before its sync is caught.
//!
//! On PostgreSQL the syncs are the server's (its WAL flush at commit), which no shim here
//! can count: the sync counts are skipped there, and
//! `commits_wait_for_the_wal_flush_whatever_the_database_default` checks that every
//! connection commits with `synchronous_commit=on` instead.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use serde_json::json;
use tasklane::store::Synchronous;

use crate::helpers::sync_count::{Syncs, watch};
use crate::helpers::*;
use crate::helpers::{PASSWORD, Resp, TestApp, on_postgres, skip_on_postgres, spawn_app_with};

const SLOW_SYNC: Duration = Duration::from_millis(20);

async fn app_counting_syncs(synchronous: Synchronous) -> (TestApp, Syncs, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let syncs = watch(dir.path(), SLOW_SYNC);
    let db = dir.path().join("durable.db");
    let app = spawn_app_with(|a| {
        a.db = db;
        a.synchronous = synchronous;
    })
    .await;
    (app, syncs, dir)
}

/// Sends one request and returns its answer with the syncs completed before it arrived.
async fn synced(syncs: &Syncs, request: impl Future<Output = Resp>) -> (Resp, u64) {
    let before = syncs.count();
    let r = request.await;
    (r, syncs.count() - before)
}

#[tokio::test]
async fn every_acknowledged_write_is_synced_before_its_answer() {
    if skip_on_postgres("counts SQLite's syncs through a VFS shim") {
        return;
    }
    let (app, syncs, _dir) = app_counting_syncs(Synchronous::Full).await;
    let mut checked: Vec<(&str, u64)> = Vec::new();

    let (r, n) = synced(&syncs, app.register("alice", "alice@example.com", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    checked.push(("register", n));
    let (r, n) = synced(&syncs, app.login("alice", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::OK);
    checked.push(("login (a refresh token)", n));
    let tokens = r.json();
    let access = tokens["access"].as_str().unwrap().to_owned();
    let (r, n) = synced(&syncs, app.refresh(tokens["refresh"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::OK);
    checked.push(("refresh rotation", n));
    let refresh = r.json()["refresh"].as_str().unwrap().to_owned();

    let (r, n) = synced(
        &syncs,
        app.create_task(&access, json!({"title": "Durable"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    checked.push(("create", n));
    let id = r.json()["id"].as_i64().unwrap();
    let keyed = async {
        let resp = app
            .client
            .post(app.url("/api/tasks/"))
            .bearer_auth(&access)
            .header("idempotency-key", "k-1")
            .json(&json!({"title": "Keyed once"}))
            .send()
            .await
            .unwrap();
        crate::helpers::read(resp).await
    };
    let (r, n) = synced(&syncs, keyed).await;
    assert_eq!(r.status, StatusCode::CREATED);
    checked.push(("create with an idempotency key", n));
    let path = format!("/api/tasks/{id}/");
    let (r, n) = synced(
        &syncs,
        app.call(
            Method::PATCH,
            &path,
            Some(&access),
            Some(json!({"completed": true})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    checked.push(("patch", n));
    let (r, n) = synced(
        &syncs,
        app.call(
            Method::PUT,
            &path,
            Some(&access),
            Some(json!({"title": "Durable, put", "description": "Synced before answered", "completed": false})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    checked.push(("put", n));
    let (r, n) = synced(&syncs, app.call(Method::DELETE, &path, Some(&access), None)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    checked.push(("delete", n));
    let (r, n) = synced(
        &syncs,
        app.call(
            Method::POST,
            "/api/tokens/",
            Some(&access),
            Some(json!({"name": "script", "scopes": ["tasks:read"]})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    checked.push(("API token created", n));
    let token_id = r.json()["id"].as_i64().unwrap();
    let (r, n) = synced(
        &syncs,
        app.call(
            Method::DELETE,
            &format!("/api/tokens/{token_id}/"),
            Some(&access),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    checked.push(("API token revoked", n));
    let (r, n) = synced(
        &syncs,
        app.call(
            Method::POST,
            "/api/token/revoke/",
            None,
            Some(json!({ "refresh": refresh })),
        ),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text);
    checked.push(("logout", n));

    let unsynced: Vec<_> = checked.iter().filter(|(_, n)| *n == 0).collect();
    assert!(
        unsynced.is_empty(),
        "answered before any sync: {unsynced:?} (all: {checked:?})"
    );
}

#[tokio::test]
async fn with_synchronous_normal_writes_are_answered_without_a_sync() {
    // The contrast that shows the test above can fail: the same writes, no syncs.
    if skip_on_postgres("--synchronous is SQLite's; its syncs are counted by a VFS shim") {
        return;
    }
    let (app, syncs, _dir) = app_counting_syncs(Synchronous::Normal).await;
    let (access, _) = app.user("bob").await;
    let before = syncs.count();
    for i in 0..10 {
        app.new_task(&access, &format!("Fast task {i}")).await;
    }
    assert_eq!(
        syncs.count() - before,
        0,
        "NORMAL syncs only at checkpoints"
    );
}

#[tokio::test]
async fn concurrent_writes_share_syncs_and_keep_their_order() {
    let (app, syncs, _dir) = app_counting_syncs(Synchronous::Full).await;
    let (access, _) = app.user("carol").await;
    let before = syncs.count();
    let writes = 40;
    let mut answers = Vec::new();
    for i in 0..writes {
        let client = app.client.clone();
        let url = app.url("/api/tasks/");
        let access = access.clone();
        answers.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(access)
                .json(&json!({"title": format!("Concurrent {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for a in answers {
        assert_eq!(a.await.unwrap(), StatusCode::CREATED);
    }
    let used = syncs.count() - before;
    // Each sync takes 20 ms; while one runs, the requests that arrive wait and share the
    // next. One sync per write would be 40. (On PostgreSQL the shim sees no syncs: the
    // order below is what holds there.)
    if !on_postgres() {
        assert!(
            used >= 1 && used <= writes / 2,
            "{used} syncs for {writes} writes"
        );
    }

    // Every write has its event: ids 1..=40, no gap, no repeat.
    let changes = app.get("/api/changes/?since=0", &access).await.json();
    let ids = crate::helpers::ids(changes["events"].as_array().unwrap());
    assert_eq!(ids, (1..=writes as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_sigkill_mid_write_loses_no_acknowledged_write() {
    // Arrange: the real binary, writers creating and updating their own tasks.
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("crash.db");
    let server = spawn_tasklane(&db_path, &[]);
    let client = reqwest::Client::new();
    let base = server.url("");
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(user_on(&client, &server, &format!("writer{i}")).await);
    }
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let mut writers = Vec::new();
    for (w, token) in tokens.into_iter().enumerate() {
        let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let title = format!("Writer {w} task {i}");
                let Ok(r) = client.post(format!("{base}/api/tasks/")).bearer_auth(&token).json(&json!({"title": title})).send().await else { return };
                if r.status() != StatusCode::CREATED { return; }
                let Ok(task) = r.json::<Value>().await else { return };
                acked.lock().unwrap().push(task.clone());
                let Ok(r) = client.patch(format!("{base}/api/tasks/{}/", task["id"])).bearer_auth(&token).json(&json!({"completed": true, "description": format!("Updated by writer {w}")})).send().await else { return };
                if r.status() != StatusCode::OK { return; }
                let Ok(task) = r.json::<Value>().await else { return };
                acked.lock().unwrap().push(task);
            }
        }));
    }

    // Act: SIGKILL after a moment of load, then restart on the same file.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "only {} writes before the kill",
        acked.len()
    );
    let restarted = spawn_tasklane(&db_path, &[]);

    // Assert: every acknowledged response is in the outbox exactly as it was answered,
    // every acknowledged task exists, and the database is intact (SQLite's
    // integrity_check; PostgreSQL answers).
    let conn = db_at(&db_path).await;
    assert!(conn.intact().await);
    for task in &acked {
        let json = task.to_string();
        let found = conn
            .int(
                "SELECT EXISTS (SELECT 1 FROM events WHERE task = ?1)",
                &[&json],
            )
            .await;
        assert_eq!(
            found, 1,
            "acknowledged write missing from the outbox: {json}"
        );
        let exists = conn
            .int(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?1)",
                &[&task["id"].as_i64().unwrap()],
            )
            .await;
        assert_eq!(exists, 1, "acknowledged task {} missing", task["id"]);
    }
    let health: Value = client
        .get(restarted.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn commits_wait_for_the_wal_flush_whatever_the_database_default() {
    let Some(db) = fresh_pg().await else { return };
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = pg_connect(&db.url).await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        ))
        .await
        .unwrap();
    // A plain new session now gets `off`…
    let plain = pg_connect(&db.url).await;
    let off: String = plain
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(off, "off");
    // …tasklane's do not, even asking for off in the URL's own options.
    for url in [
        db.url.clone(),
        format!("{}?options=-c%20synchronous_commit%3Doff", db.url),
    ] {
        let pg = tasklane::store::postgres::Postgres::connect(&url, 2)
            .await
            .unwrap();
        assert_eq!(pg.synchronous_commit().await.unwrap(), "on", "{url}");
    }
}
