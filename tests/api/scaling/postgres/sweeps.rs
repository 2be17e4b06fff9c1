//! Housekeeping sweeps on PostgreSQL: writers, sweepers and an account deletion on two
//! hosts never deadlock, and the sweeps delete what SQLite's do.

use std::time::Duration;
use tasklane::domain::projects::task_rules::write_rule;

use tasklane::clock::{new_id, now_secs, now_secs_f64, now_timestamp};
use tasklane::store::idempotency::Key;
use tasklane::store::tasks::{IfMatch, TaskChanges};
use tasklane::store::tokens::{NewRefresh, Rotation};
use tasklane::store::users::AccountUpdate;
use tasklane::store::{Store, StoreError, Synchronous};

use crate::helpers::*;

use super::{account, everything, task, two_hosts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_sweepers_and_an_account_deletion_on_two_hosts_never_deadlock() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "busy").await;
    let victim = account(&b, "victim").await;
    let now = now_secs();
    for i in 0..20 {
        b.create_task(
            victim.clone(),
            task(&format!("Victim task {i}")),
            write_rule,
        )
        .await
        .unwrap();
        assert!(
            b.insert_refresh(
                NewRefresh {
                    jti: new_id(),
                    user_id: victim.id,
                    expires_at: if i % 2 == 0 { now - 10 } else { now + 3600 },
                },
                0,
                now - 100,
            )
            .await
            .unwrap(),
            "the account is active at generation 0"
        );
    }
    let fine = |r: Result<(), StoreError>, what: &str| match r {
        Ok(()) | Err(StoreError::NotFound | StoreError::Stale { .. }) => {}
        Err(e) => panic!("{what}: {e:?}"),
    };
    let mut handles = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let (owner, victim) = (owner.clone(), victim.clone());
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                match (w + i) % 9 {
                    0 | 1 => {
                        let (t, _) = store
                            .create_task(owner.clone(), task(&format!("W{w} {i}")), write_rule)
                            .await
                            .unwrap();
                        ids.push(t.id);
                    }
                    2 => {
                        let id = ids.last().copied().unwrap_or(1);
                        let changes = TaskChanges {
                            completed: Some(true),
                            ..TaskChanges::default()
                        };
                        let r = store
                            .update_task(owner.clone(), id, changes, None, write_rule)
                            .await;
                        fine(r.map(|_| ()), "update");
                    }
                    3 => {
                        if let Some(id) = ids.pop() {
                            let r = store
                                .delete_task(owner.clone(), id, Some(IfMatch::Any), write_rule)
                                .await;
                            fine(r.map(|_| ()), "delete");
                        }
                    }
                    4 => {
                        let t = now_secs_f64();
                        let key = Key {
                            key: format!("k{}", i % 3),
                            request_hash: "h".into(),
                            now: t,
                            expired_before: t - 0.05,
                        };
                        store
                            .create_task_once(owner.clone(), task("Keyed"), key, write_rule)
                            .await
                            .unwrap();
                    }
                    5 => {
                        let jti = new_id();
                        let t = now_secs();
                        // The generation as read; a password change racing in makes the
                        // insert refuse, and then there is nothing to rotate.
                        let generation = store
                            .account_by_id(owner.id)
                            .await
                            .unwrap()
                            .unwrap()
                            .credentials_generation;
                        let token = NewRefresh {
                            jti: jti.clone(),
                            user_id: owner.id,
                            expires_at: t + 60,
                        };
                        if !store.insert_refresh(token, generation, t).await.unwrap() {
                            continue;
                        }
                        let issued = store
                            .rotate_refresh(
                                jti.clone(),
                                generation,
                                now_secs_f64(),
                                0.0,
                                move |user_id, _| {
                                    let next = NewRefresh {
                                        jti: new_id(),
                                        user_id,
                                        expires_at: t + 60,
                                    };
                                    ("pair".into(), next)
                                },
                            )
                            .await
                            .unwrap();
                        assert!(!matches!(issued, Rotation::ReuseDetected));
                        store
                            .revoke_refresh_family(jti, now_secs_f64())
                            .await
                            .unwrap();
                    }
                    6 => {
                        store
                            .update_account(
                                owner.id,
                                AccountUpdate {
                                    password_hash: Some(format!("hash {w} {i}")),
                                    ..AccountUpdate::default()
                                },
                                now_secs_f64(),
                            )
                            .await
                            .unwrap();
                    }
                    7 => {
                        store.prune_events(now_timestamp()).await.unwrap();
                        store.prune_idempotency_keys(now_secs_f64()).await.unwrap();
                        store.forget_successors(now_secs_f64()).await.unwrap();
                    }
                    _ => {
                        if w == 1 && i > 10 {
                            store.delete_account(victim.id).await.unwrap();
                        } else {
                            store.list_tasks(owner.clone(), everything()).await.unwrap();
                        }
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    // Whatever was pruned, what is left is one unbroken run up to the last id.
    let cursor = a.event_cursor(owner.id).await.unwrap();
    let ids: Vec<i64> = a
        .events_after(owner.id, cursor.pruned_through, 10_000, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        (cursor.pruned_through + 1..=cursor.last).collect::<Vec<_>>()
    );
    assert!(a.account_by_id(victim.id).await.unwrap().is_none());
}

/// The sweeps' results on `store`: events pruned, cursors, what is left, keys and
/// rotated pairs forgotten.
async fn sweep_story(store: &Store) -> Vec<String> {
    let a = account(store, "sweeper").await;
    let b = account(store, "other").await;
    let mut out = Vec::new();
    for i in 0..3 {
        store
            .create_task(a.clone(), task(&format!("Old a {i}")), write_rule)
            .await
            .unwrap();
    }
    for i in 0..2 {
        store
            .create_task(b.clone(), task(&format!("Old b {i}")), write_rule)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cutoff = now_timestamp();
    tokio::time::sleep(Duration::from_millis(5)).await;
    for i in 0..2 {
        store
            .create_task(a.clone(), task(&format!("New a {i}")), write_rule)
            .await
            .unwrap();
    }
    out.push(format!(
        "pruned {}",
        store.prune_events(cutoff.clone()).await.unwrap()
    ));
    out.push(format!(
        "again {}",
        store.prune_events(cutoff).await.unwrap()
    ));
    for u in [&a, &b] {
        out.push(format!("{:?}", store.event_cursor(u.id).await.unwrap()));
        let left: Vec<i64> = store
            .events_after(u.id, 0, 100, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        out.push(format!("left {left:?}"));
    }
    let t0 = 1_900_000_000.0;
    for (k, at) in [("early", t0), ("late", t0 + 100.0)] {
        let key = Key {
            key: k.into(),
            request_hash: "h".into(),
            now: at,
            expired_before: 0.0,
        };
        store
            .create_task_once(a.clone(), task("Keyed"), key, write_rule)
            .await
            .unwrap();
    }
    out.push(format!(
        "keys {}",
        store.prune_idempotency_keys(t0 + 50.0).await.unwrap()
    ));
    let jti = new_id();
    let exp = 2_000_000_000;
    assert!(
        store
            .insert_refresh(
                NewRefresh {
                    jti: jti.clone(),
                    user_id: a.id,
                    expires_at: exp,
                },
                0,
                0,
            )
            .await
            .unwrap(),
        "the account is active at generation 0"
    );
    let issue = move |user_id, _| {
        (
            "pair".to_owned(),
            NewRefresh {
                jti: new_id(),
                user_id,
                expires_at: exp,
            },
        )
    };
    let r = store
        .rotate_refresh(jti.clone(), 0, t0, 10.0, issue)
        .await
        .unwrap();
    out.push(format!("{r:?}"));
    out.push(format!(
        "forgot {}",
        store.forget_successors(t0 - 1.0).await.unwrap()
    ));
    out.push(format!(
        "forgot {}",
        store.forget_successors(t0 + 1.0).await.unwrap()
    ));
    let r = store
        .rotate_refresh(jti.clone(), 0, t0 + 2.0, 10.0, issue)
        .await
        .unwrap();
    out.push(format!("{r:?}"));
    out.push(format!(
        "revoked {}",
        store.revoke_refresh_family(jti, t0).await.unwrap()
    ));
    out
}

#[tokio::test]
async fn the_sweeps_give_what_sqlite_gives() {
    let Some(db) = fresh_pg().await else { return };
    let pg = Store::connect_postgres(&db.url, 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweeps.db");
    let sqlite =
        tokio::task::spawn_blocking(move || Store::open_sqlite(&path, 2, Synchronous::Full))
            .await
            .unwrap()
            .unwrap();
    let expected = sweep_story(&sqlite).await;
    assert_eq!(expected[0], "pruned 5");
    assert_eq!(sweep_story(&pg).await, expected);
}
