//! A deleted account's purge: unusable and its name free from the first write, finished
//! by the next start when cut short, carried by `tasklane copy`; and the housekeeping
//! sweeps, which delete in the same short jobs, still delete everything they should.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tasklane::store::{Store, Synchronous};

use crate::helpers::{
    PASSWORD, TestApp, api_token, db, on_postgres, spawn_app, start, tasklane, test_args, user,
};

/// A second store on the server's database: another process, an operator's command.
async fn other_process(app: &TestApp) -> Store {
    match &app.args.database_url {
        Some(url) => Store::connect_postgres(url.expose(), 2).await.unwrap(),
        None => Store::open_sqlite(&app.db_path(), 2, Synchronous::Full).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_cut_short_is_unusable_at_once_and_purged_by_the_next_start() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("cutshort").await;
    let id = app.get("/api/users/me/", &access).await.json()["id"]
        .as_i64()
        .unwrap();
    let mut last_id = 0;
    for i in 0..3 {
        last_id = app.new_task(&access, &format!("Task number {i}")).await["id"]
            .as_i64()
            .unwrap();
    }
    let script = api_token(&app, &access, &["tasks:read"]).await;
    let (other, _) = app.user("bystander").await;
    app.new_task(&other, "Not theirs to lose").await;

    // Another process deletes the account and stops before purging anything.
    let elsewhere = other_process(&app).await;
    assert!(elsewhere.delete_account(id).await.unwrap().is_some());
    drop(elsewhere);
    // The server notices within its account cache's second.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let c = db(&app).await;
    let owned = |table: &'static str| {
        let c = &c;
        async move {
            c.int(
                &format!("SELECT count(*) FROM {table} WHERE user_id = ?1"),
                &[&id],
            )
            .await
        }
    };
    assert_eq!(owned("tasks").await, 3, "nothing purged yet");
    // Nothing of it works, nothing of it shows.
    assert_eq!(
        app.login("cutshort", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    for token in [&access, &script] {
        assert_eq!(
            app.get("/api/tasks/", token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let accounts = user(&app, &["list"], None).await;
    accounts.ok();
    assert!(!accounts.stdout.contains("cutshort"), "{accounts:?}");
    assert!(!accounts.stdout.contains("deleted:"), "{accounts:?}");
    // The name and the email are free already.
    let r = app
        .register("cutshort", "cutshort@example.com", PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_ne!(r.json()["id"].as_i64(), Some(id));

    // The next start finishes the purge.
    let app = app.restart().await;
    let started = Instant::now();
    while c
        .int("SELECT count(*) FROM users WHERE id = ?1", &[&id])
        .await
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not purged after a restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for table in [
        "tasks",
        "events",
        "idempotency_keys",
        "refresh_tokens",
        "api_tokens",
    ] {
        assert_eq!(
            owned(table).await,
            0,
            "{table} still holds the account's rows"
        );
    }
    // The new account of that name starts empty, and a task id of the deleted account
    // is never handed out again; the bystander lost nothing.
    let r = app.login("cutshort", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let again = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(app.task_count(&again).await, 0);
    let newest = app.new_task(&again, "A fresh start").await;
    assert!(newest["id"].as_i64().unwrap() > last_id, "{newest}");
    let r = app.login("bystander", PASSWORD).await;
    let bystander = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(app.task_count(&bystander).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_copied_mid_purge_is_finished_on_the_copy() {
    let app = spawn_app().await;
    let (access, _) = app.user("movedaway").await;
    let id = app.get("/api/users/me/", &access).await.json()["id"]
        .as_i64()
        .unwrap();
    for i in 0..3 {
        app.new_task(&access, &format!("Task number {i}")).await;
    }
    let (staying, _) = app.user("staying").await;
    app.new_task(&staying, "Moves with the copy").await;
    let elsewhere = other_process(&app).await;
    assert!(elsewhere.delete_account(id).await.unwrap().is_some());
    drop(elsewhere);
    let source = match &app.args.database_url {
        Some(url) => url.expose().to_owned(),
        None => app.db_path().display().to_string(),
    };
    let (dir, _) = app.stop().await;

    // The copy carries the mark and the rows still to purge.
    let target = dir.path().join("copied.db");
    let run = tasklane(
        &["copy", "--from", &source, "--to", target.to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let mut args = test_args(&dir);
    args.db = target;
    args.database_url = None;
    let copy = start(dir, args).await;
    let c = db(&copy).await;
    // Its first housekeeping finishes the purge.
    let started = Instant::now();
    while c
        .int("SELECT count(*) FROM users WHERE id = ?1", &[&id])
        .await
        > 0
    {
        assert!(started.elapsed() < Duration::from_secs(20), "not purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        c.int("SELECT count(*) FROM tasks WHERE user_id = ?1", &[&id])
            .await,
        0
    );
    assert_eq!(
        copy.login("movedaway", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = copy.login("staying", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(copy.task_count(&token).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_past_one_statement_s_rows_prune_everything_and_record_the_cut() {
    let app = spawn_app().await;
    let (a, _) = app.user("sweepa").await;
    let (b, _) = app.user("sweepb").await;
    let me = |token: String| {
        let app = &app;
        async move {
            app.get("/api/users/me/", &token).await.json()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let (a_id, b_id) = (me(a).await, me(b).await);
    let c = db(&app).await;
    let series = |n: i64| {
        if on_postgres() {
            format!("SELECT i FROM generate_series(1, {n}) AS i")
        } else {
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"
            )
        }
    };
    // Old events (well past any retention), then a few new ones, written in that order
    // as a server writes them (SQLite prunes in the order written); throttle counts.
    for (user, old) in [(a_id, 1200), (b_id, 300)] {
        c.execute(
            &format!(
                "INSERT INTO events (user_id, seq, action, task_id, task, at)
                 SELECT ?1, i, 'create', i, '{{}}', '2000-01-01T00:00:00.000000Z' FROM ({}) AS n",
                series(old)
            ),
            &[&user],
        )
        .await;
    }
    for (user, old, new) in [(a_id, 1200, 10), (b_id, 300, 0)] {
        c.execute(
            &format!(
                "INSERT INTO events (user_id, seq, action, task_id, task, at)
                 SELECT ?1, {old} + i, 'create', i, '{{}}', '2999-01-01T00:00:00.000000Z'
                 FROM ({}) AS n",
                series(new.max(1))
            ),
            &[&user],
        )
        .await;
        c.execute(
            "UPDATE users SET event_seq = (SELECT max(seq) FROM events WHERE user_id = ?1)
             WHERE id = ?1",
            &[&user],
        )
        .await;
    }
    let key = if on_postgres() {
        "'\\x00'::bytea"
    } else {
        "x'00'"
    };
    c.execute(
        &format!(
            "INSERT INTO throttle_hits (scope, key, at) SELECT 'login', {key}, i FROM ({}) AS n",
            series(700)
        ),
        &[],
    )
    .await;

    let store = other_process(&app).await;
    let pruned = store
        .prune_events("2001-01-01T00:00:00.000000Z".into())
        .await
        .unwrap();
    assert_eq!(pruned, 1500);
    for (user, last_old, left) in [(a_id, 1200, 10), (b_id, 300, 1)] {
        let cursor = store.event_cursor(user).await.unwrap();
        assert_eq!(cursor.pruned_through, last_old);
        let n = c
            .int("SELECT count(*) FROM events WHERE user_id = ?1", &[&user])
            .await;
        assert_eq!(n, left);
    }
    // Counted at or before 500, then past the newest 100 (the sign-ups' counts are the
    // newest).
    let counted = c.int("SELECT count(*) FROM throttle_hits", &[]).await;
    assert!(counted > 700);
    let pruned = store.prune_throttles(500.0, 100).await.unwrap();
    assert_eq!(pruned as i64, counted - 100);
    assert_eq!(c.int("SELECT count(*) FROM throttle_hits", &[]).await, 100);
}

/// SQLite prunes events in the order they were written and stops at the first one it
/// keeps: an old-looking event written after a new one (the clock went back) waits, so
/// a user's cut never passes an event still there, and a resume from below it is told.
#[tokio::test]
async fn pruning_never_cuts_past_an_event_it_keeps() {
    if on_postgres() {
        return; // PostgreSQL prunes by time through its index
    }
    let app = spawn_app().await;
    let (a, _) = app.user("clockback").await;
    let id = app.get("/api/users/me/", &a).await.json()["id"]
        .as_i64()
        .unwrap();
    let c = db(&app).await;
    for (seq, at) in [
        (1, "2000-01-01T00:00:00.000000Z"),
        (2, "2000-01-01T00:00:01.000000Z"),
        (3, "2999-01-01T00:00:00.000000Z"),
        (4, "2000-01-01T00:00:02.000000Z"),
    ] {
        c.execute(
            "INSERT INTO events (user_id, seq, action, task_id, task, at)
             VALUES (?1, ?2, 'create', 1, '{}', ?3)",
            &[&id, &seq, &at],
        )
        .await;
    }
    c.execute("UPDATE users SET event_seq = 4 WHERE id = ?1", &[&id])
        .await;
    let store = other_process(&app).await;
    let pruned = store
        .prune_events("2001-01-01T00:00:00.000000Z".into())
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(store.event_cursor(id).await.unwrap().pruned_through, 2);
    let left = store.events_after(id, 2, 10, 1 << 20).await.unwrap();
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 4]);
}
