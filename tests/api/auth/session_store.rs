//! The store's half of "a login never outlives the change it raced", on the suite's
//! backend (SQLite, or PostgreSQL with `TASKLANE_TEST_DATABASE_URL`), through two handles
//! on one database as two processes or hosts would have: a refresh or API token is stored
//! only while its account is active at the credentials generation the caller read, checked
//! in the same write, and every change that ends credentials moves the generation on.

use std::sync::Arc;

use reqwest::StatusCode;
use tasklane::clock::{new_id, now_secs, now_secs_f64};
use tasklane::store::api_tokens::NewApiToken;
use tasklane::store::tokens::{NewRefresh, Rotation};
use tasklane::store::users::AccountUpdate;
use tasklane::store::{Store, Synchronous};

use crate::helpers::*;

/// A second handle on the test server's database, as another process or host has.
async fn another_store(app: &TestApp) -> Store {
    match &app.args.database_url {
        Some(url) => Store::connect_postgres(url.expose(), 4).await.unwrap(),
        None => Store::open_sqlite(&app.db_path(), 4, Synchronous::Full).unwrap(),
    }
}

fn token(user_id: i64) -> NewRefresh {
    NewRefresh {
        jti: new_id(),
        user_id,
        expires_at: now_secs() + 3600,
    }
}

fn api_token(name: &str) -> NewApiToken {
    NewApiToken {
        name: name.into(),
        token_hash: new_id(),
        prefix: "tlp_x".into(),
        scopes: vec!["tasks:read".into()],
        expires: None,
    }
}

async fn generation(store: &Store, user_id: i64) -> i64 {
    store
        .account_by_id(user_id)
        .await
        .unwrap()
        .expect("account")
        .credentials_generation
}

fn new_password() -> AccountUpdate {
    AccountUpdate {
        password_hash: Some(format!("$argon2id$v=19${}", new_id())),
        ..AccountUpdate::default()
    }
}

#[tokio::test]
async fn tokens_are_stored_only_at_the_account_s_current_generation() {
    let app = spawn_app().await;
    app.user("gen1").await;
    let store = another_store(&app).await;
    let id = store
        .account_by_username("gen1".into())
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let read = generation(&store, id).await;
    let spent = token(id);
    assert!(
        store
            .insert_refresh(spent.clone(), read, now_secs())
            .await
            .unwrap()
    );

    // The password changes after the login read the account: what it would store now is
    // refused, and what it stored before is spent.
    store
        .update_account(id, new_password(), now_secs_f64())
        .await
        .unwrap();
    let current = generation(&store, id).await;
    assert_eq!(current, read + 1);
    assert!(
        !store
            .insert_refresh(token(id), read, now_secs())
            .await
            .unwrap()
    );
    assert!(
        store
            .create_api_token(id, api_token("late"), Some(read))
            .await
            .unwrap()
            .is_none()
    );
    let issue = |user_id, _| ("pair".to_owned(), token(user_id));
    let r = store
        .rotate_refresh(spent.jti.clone(), read, now_secs_f64(), 0.0, issue)
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Invalid), "{r:?}");
    // At the new generation, all goes.
    let live = token(id);
    assert!(
        store
            .insert_refresh(live.clone(), current, now_secs())
            .await
            .unwrap()
    );
    assert!(
        store
            .create_api_token(id, api_token("ok"), Some(current))
            .await
            .unwrap()
            .is_some()
    );
    // A rotation at a generation the account is not at (a token from the future, or a
    // stale one whose row somehow lived) is refused in its transaction too.
    let r = store
        .rotate_refresh(live.jti.clone(), current + 1, now_secs_f64(), 0.0, issue)
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Invalid), "{r:?}");
    let r = store
        .rotate_refresh(live.jti.clone(), current, now_secs_f64(), 0.0, issue)
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Rotated(_)), "{r:?}");

    // Deactivating moves it on too, and an inactive account stores nothing.
    store
        .set_account_active("gen1".into(), false, now_secs_f64())
        .await
        .unwrap();
    let deactivated = generation(&store, id).await;
    assert_eq!(deactivated, current + 1);
    assert!(
        !store
            .insert_refresh(token(id), deactivated, now_secs())
            .await
            .unwrap()
    );
    store
        .set_account_active("gen1".into(), true, now_secs_f64())
        .await
        .unwrap();
    assert_eq!(
        generation(&store, id).await,
        deactivated,
        "reactivating ends nothing"
    );
    // A deleted account: refused, not a foreign-key failure.
    assert!(store.delete_account(id).await.unwrap().is_some());
    assert!(
        !store
            .insert_refresh(token(id), deactivated, now_secs())
            .await
            .unwrap()
    );
    assert!(
        store
            .create_api_token(id, api_token("gone"), Some(deactivated))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_racing_a_password_change_on_another_host_leave_no_live_token() {
    let app = spawn_app().await;
    app.user("gen2").await;
    let (a, b) = (
        Arc::new(another_store(&app).await),
        Arc::new(another_store(&app).await),
    );
    let id = a
        .account_by_username("gen2".into())
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let live = "SELECT count(*) FROM refresh_tokens WHERE user_id = ?1 AND revoked_at IS NULL";
    for round in 0..10 {
        let read = generation(&a, id).await;
        // Logins on host A that all read the account before the change on host B.
        let logins: Vec<_> = (0..16)
            .map(|k| {
                let a = a.clone();
                tokio::spawn(async move {
                    for _ in 0..k % 4 {
                        tokio::task::yield_now().await;
                    }
                    a.insert_refresh(token(id), read, now_secs()).await.unwrap()
                })
            })
            .collect();
        b.update_account(id, new_password(), now_secs_f64())
            .await
            .unwrap();
        let mut stored = 0;
        for login in logins {
            stored += i64::from(login.await.unwrap());
        }
        // Each was wholly before the change (and revoked by it) or refused.
        let left = db(&app).await.int(live, &[&id]).await;
        assert_eq!(
            left, 0,
            "round {round}: {left} of {stored} stored tokens outlived the change"
        );
    }
    // And the old password no longer logs in.
    assert_eq!(
        app.login("gen2", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// An account whose credentials were ended before the upgrade (`credentials_after` set)
/// starts at generation 1, so the original app's tokens from before the import stay
/// refused; every other account at the first generation, 0.
async fn assert_upgraded(store: &Store) {
    for (name, expected) in [("kept", 0), ("changed", 1)] {
        let account = store
            .account_by_username(name.into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.credentials_generation, expected, "{name}");
    }
}

const OLD_USERS: &str =
    "INSERT INTO users (username, email, password_hash, created_at, credentials_after)
     VALUES ('kept', 'kept@example.com', 'h', '2026-01-01T00:00:00.000000Z', 0),
            ('changed', 'changed@example.com', 'h', '2026-01-01T00:00:00.000000Z', 1790000000)";

#[tokio::test]
async fn upgrading_keeps_ended_credentials_ended_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../../../schema.sql"),
            include_str!("../../../src/store/sqlite/migrations/0002_credentials.sql"),
            include_str!("../../../src/store/sqlite/migrations/0003_throttles.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        c.execute_batch(OLD_USERS).unwrap();
    }
    let store = Store::open_sqlite(&path, 2, Synchronous::Full).unwrap();
    assert_upgraded(&store).await;
}

#[tokio::test]
async fn upgrading_keeps_ended_credentials_ended_on_postgres() {
    let Some(db) = fresh_pg().await else {
        return;
    };
    {
        let c = pg_connect(&db.url).await;
        c.batch_execute(
            "CREATE TABLE tasklane_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .await
        .unwrap();
        for (version, sql) in [
            (
                1,
                include_str!("../../../src/store/postgres/migrations/0001_schema.sql"),
            ),
            (
                2,
                include_str!("../../../src/store/postgres/migrations/0002_throttles.sql"),
            ),
        ] {
            c.batch_execute(sql).await.unwrap();
            c.execute(
                "INSERT INTO tasklane_migrations (version, applied_at) VALUES ($1, 'then')",
                &[&version],
            )
            .await
            .unwrap();
        }
        c.batch_execute(OLD_USERS).await.unwrap();
    }
    let store = Store::connect_postgres(&db.url, 2).await.unwrap();
    assert_upgraded(&store).await;
}
