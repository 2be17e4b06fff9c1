//! One user's row held by a slow transaction (PostgreSQL) holds up that user's creates
//! only: the shared group commit never waits for a row lock, and the blocked create gets
//! its answer (created once the row is free, or a 503 after 5 s), never a hang.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, metric, on_postgres, pg_connect, spawn_app_with};

/// One create as `token`, with how long it took.
async fn timed_create(app: &TestApp, token: &str, title: &str) -> (StatusCode, Duration, String) {
    let at = Instant::now();
    let r = app.create_task(token, json!({ "title": title })).await;
    (r.status, at.elapsed(), r.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_transaction_on_one_users_row_stalls_only_that_users_creates() {
    if !on_postgres() {
        eprintln!("skipped on SQLite: row locks are PostgreSQL's");
        return;
    }
    let app = spawn_app_with(|a| a.metrics = true).await;
    let (a, _) = app.user("lockeda").await;
    let (b, _) = app.user("freeb").await;
    let a_id = app.get("/api/users/me/", &a).await.json()["id"]
        .as_i64()
        .unwrap();
    let url = app.args.database_url.as_ref().unwrap().expose().to_owned();

    // Someone holds A's row: a slow transaction, an operator's session.
    let holder = pg_connect(&url).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT id FROM users WHERE id = $1 FOR UPDATE", &[&a_id])
        .await
        .unwrap();
    let held = Instant::now();
    let blocked = {
        let (app_url, a) = (app.url("/api/tasks/"), a.clone());
        tokio::spawn(async move {
            let at = Instant::now();
            let r = reqwest::Client::new()
                .post(app_url)
                .bearer_auth(a)
                .json(&json!({"title": "Waits for the row"}))
                .send()
                .await
                .unwrap();
            (r.status(), at.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // B's creates go through meanwhile, alone and in batches with A's.
    for i in 0..10 {
        let (status, took, text) = timed_create(&app, &b, &format!("B's task {i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        assert!(took < Duration::from_secs(1), "B's create waited {took:?}");
    }
    let mut together = Vec::new();
    for i in 0..8 {
        let (app_url, b) = (app.url("/api/tasks/"), b.clone());
        together.push(tokio::spawn(async move {
            let at = Instant::now();
            let r = reqwest::Client::new()
                .post(app_url)
                .bearer_auth(b)
                .json(&json!({"title": format!("B's batch {i}")}))
                .send()
                .await
                .unwrap();
            (r.status(), at.elapsed())
        }));
    }
    for t in together {
        let (status, took) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED);
        assert!(took < Duration::from_secs(1), "B's create waited {took:?}");
    }
    assert!(
        !blocked.is_finished(),
        "A's create did not wait for its row"
    );
    // Released within the wait: A's create goes through.
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(held.elapsed())).await;
    holder.batch_execute("ROLLBACK").await.unwrap();
    let (status, took) = blocked.await.unwrap();
    assert_eq!(status, StatusCode::CREATED);
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Held past the wait: A's create is refused, retryably, and nothing else waits.
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT id FROM users WHERE id = $1 FOR UPDATE", &[&a_id])
        .await
        .unwrap();
    let at = Instant::now();
    let r = app.create_task(&a, json!({"title": "Gives up"})).await;
    let took = at.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["code"], "database_unavailable");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let r = app.create_task(&b, json!({"title": "B, still fine"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    holder.batch_execute("ROLLBACK").await.unwrap();
    let r = app
        .create_task(&a, json!({"title": "A, after the wait"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let retry = app.create_task(&a, json!({"title": "A, once more"})).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    // A's creates were tried again and again rather than waiting in everyone's batch.
    let retries = metric(&app, "tasklane_db_create_lock_retries_total").await;
    assert!(retries >= 10.0, "{retries} retries");
}
