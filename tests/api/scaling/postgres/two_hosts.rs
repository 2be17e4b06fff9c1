//! What only PostgreSQL has to prove: two `Store`s on one database are two hosts, and
//! the guarantees SQLite gets from its single writer must hold between them: gapless
//! event ids, one idempotent create, one rotation, one `If-Match` winner, one migration.
//!
//! Needs a PostgreSQL server: `TASKLANE_TEST_DATABASE_URL`, else
//! postgres://postgres@127.0.0.1:5432/postgres; each test makes a database of its own
//! there. When the server is unreachable the tests say so loudly and skip, unless
//! `REQUIRE_POSTGRES=1` (CI), where they fail.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;
use tasklane::domain::projects::task_rules::write_rule;

use serde_json::Value;
use tasklane::clock::{new_id, now_secs, now_secs_f64};
use tasklane::store::idempotency::{Key, Keyed};
use tasklane::store::tasks::{IfMatch, TaskChanges};
use tasklane::store::tokens::{NewRefresh, Rotation};
use tasklane::store::{Store, StoreError};

use crate::helpers::*;

use super::{account, everything, task, two_hosts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_writing_for_one_user_hand_out_gapless_event_ids_in_commit_order() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "alice").await;
    let (workers, rounds) = (8, 5);
    let total = workers * rounds * 3;

    // A reader on host B: each batch must start right after the last one. An id handed
    // out before an earlier one committed would show up here as a gap.
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (b, owner, done) = (b.clone(), owner.clone(), done.clone());
        async move {
            let mut last = 0;
            loop {
                let finished = done.load(AtomicOrdering::SeqCst);
                for e in b
                    .events_after(owner.id, last, 1000, usize::MAX)
                    .await
                    .unwrap()
                {
                    assert_eq!(e.id, last + 1, "event {} seen before {}", e.id, last + 1);
                    last = e.id;
                }
                if finished {
                    return last;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });

    // Writers on both hosts: create, update, delete, over and over.
    let mut handles = Vec::new();
    for w in 0..workers {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let owner = owner.clone();
        handles.push(tokio::spawn(async move {
            for r in 0..rounds {
                let (t, _) = store
                    .create_task(
                        owner.clone(),
                        task(&format!("Writer {w} round {r}")),
                        write_rule,
                    )
                    .await
                    .unwrap();
                let changes = TaskChanges {
                    completed: Some(true),
                    ..TaskChanges::default()
                };
                store
                    .update_task(owner.clone(), t.id, changes, None, write_rule)
                    .await
                    .unwrap();
                store
                    .delete_task(owner.clone(), t.id, None, write_rule)
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    done.store(true, AtomicOrdering::SeqCst);
    assert_eq!(reader.await.unwrap(), total);

    // Every id once, 1..=total, and each task's events in the order they happened.
    assert_eq!(a.event_seq(owner.id).await.unwrap(), total);
    let events = a
        .events_after(owner.id, 0, 10_000, usize::MAX)
        .await
        .unwrap();
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=total).collect::<Vec<_>>());
    let mut per_task: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for e in &events {
        let v: Value = serde_json::from_str(&e.json).unwrap();
        per_task
            .entry(v["task"]["id"].as_i64().unwrap())
            .or_default()
            .push(v["action"].as_str().unwrap().to_owned());
    }
    assert_eq!(per_task.len() as i64, workers * rounds);
    for actions in per_task.values() {
        assert_eq!(actions, &["create", "update", "delete"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_group_committed_on_two_hosts_stay_gapless_and_match_their_events() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let mut owners = Vec::new();
    for name in ["ann", "bob", "cyd", "dee", "eve"] {
        owners.push(account(&a, name).await);
    }
    // One owner is gone before the creates: theirs fail alone, the others' commit.
    let gone = account(&a, "gone").await;
    assert!(a.delete_account(gone.id).await.unwrap().is_some());
    let (commits_before, writes_before) = a.write_stats();

    // Many creates at once on each host, the owners interleaved in different orders, so
    // both hosts' batches hold several owners' row locks at the same time.
    let per_host = 120;
    let mut handles = Vec::new();
    for i in 0..2 * per_host {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let owner = match i % 13 {
            0 => gone.clone(),
            k if i % 2 == 0 => owners[k % owners.len()].clone(),
            k => owners[owners.len() - 1 - k % owners.len()].clone(),
        };
        handles.push(tokio::spawn(async move {
            let out = store
                .create_task(
                    owner.clone(),
                    task(&format!("Create number {i}")),
                    write_rule,
                )
                .await;
            (i % 2 == 0, owner, out)
        }));
    }
    let mut created = BTreeMap::<i64, Vec<_>>::new();
    let (mut refused, mut created_on_a) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            (on_a, owner, Ok((t, mut events))) => {
                // A personal task: one event, its creator's.
                assert_eq!(events.len(), 1);
                let e = events.remove(0);
                assert_eq!((t.user.id, e.user_id), (owner.id, owner.id));
                created.entry(owner.id).or_default().push((t, e));
                created_on_a += u64::from(on_a);
            }
            (_, owner, Err(e)) => {
                assert_eq!(owner.id, gone.id, "{e:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, (0..2 * per_host).filter(|i| i % 13 == 0).count());

    for owner in &owners {
        let mine = &created[&owner.id];
        // Event ids 1..=n, each once, and the outbox holds exactly what each create returned.
        let mut ids: Vec<i64> = mine.iter().map(|(_, e)| e.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=mine.len() as i64).collect::<Vec<_>>());
        let stored = b
            .events_after(owner.id, 0, 10_000, usize::MAX)
            .await
            .unwrap();
        assert_eq!(stored.len(), mine.len());
        for (t, e) in mine {
            let s = stored.iter().find(|s| s.id == e.id).unwrap();
            assert_eq!(s.json, e.json);
            let v: Value = serde_json::from_str(&e.json).unwrap();
            assert_eq!(v["task"], serde_json::to_value(t).unwrap());
            assert_eq!(b.get_task(owner.clone(), t.id).await.unwrap(), *t);
        }
        // Within one owner, a later event id never has an earlier task id.
        let mut by_event: Vec<_> = mine.iter().map(|(t, e)| (e.id, t.id)).collect();
        by_event.sort_unstable();
        assert!(by_event.windows(2).all(|w| w[0].1 < w[1].1), "{by_event:?}");
    }
    // Host a counted its creates, and they shared commits.
    let (commits, writes) = a.write_stats();
    assert_eq!(writes - writes_before, created_on_a);
    assert!(
        commits - commits_before < created_on_a,
        "no two creates shared a commit: {} commits for {created_on_a}",
        commits - commits_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_event_id_reads_see_every_commit_made_before_them() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let mut owners = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        owners.push(account(&a, name).await);
    }
    let mut expected = vec![0_i64; owners.len()];
    for round in 0..30 {
        // A write on host B, then many reads at once on host A, all asked after it
        // committed: each must see it, and a user who does not exist is NotFound.
        let k = round % owners.len();
        b.create_task(
            owners[k].clone(),
            task(&format!("Round {round} task")),
            write_rule,
        )
        .await
        .unwrap();
        expected[k] += 1;
        let mut reads = Vec::new();
        for i in 0..24 {
            let (a, id) = match i % 4 {
                3 => (a.clone(), i64::MAX),
                j => (a.clone(), owners[j].id),
            };
            reads.push(tokio::spawn(async move { (id, a.event_seq(id).await) }));
        }
        for r in reads {
            match r.await.unwrap() {
                (i64::MAX, got) => assert!(matches!(got, Err(StoreError::NotFound)), "{got:?}"),
                (id, got) => {
                    let k = owners.iter().position(|o| o.id == id).unwrap();
                    assert_eq!(got.unwrap(), expected[k], "round {round}, user {id}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_through_two_hosts_creates_one_task() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "alice").await;
    let now = now_secs_f64();
    let key = |hash: &str| Key {
        key: "retry-me".into(),
        request_hash: hash.into(),
        now,
        expired_before: now - 3600.0,
    };

    let mut handles = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (owner, key) = (owner.clone(), key("same body"));
        handles.push(tokio::spawn(async move {
            store
                .create_task_once(owner, task("Created once"), key, write_rule)
                .await
                .unwrap()
        }));
    }
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for h in handles {
        match h.await.unwrap() {
            Keyed::Created(t, _) => created.push(t),
            Keyed::Replayed { status, body } => replayed.push((status, body)),
            Keyed::Mismatch => panic!("same request, same key: not a mismatch"),
        }
    }
    assert_eq!(created.len(), 1);
    let first = serde_json::to_string(&created[0]).unwrap();
    assert_eq!(replayed.len(), 15);
    assert!(replayed.iter().all(|(s, body)| *s == 201 && *body == first));
    let page = b.list_tasks(owner.clone(), everything()).await.unwrap();
    assert_eq!((page.total, page.last_event_id), (Some(1), 1));

    // Another request under the key is refused, and took no event id.
    let other = a
        .create_task_once(
            owner.clone(),
            task("Something else"),
            key("other body"),
            write_rule,
        )
        .await
        .unwrap();
    assert!(matches!(other, Keyed::Mismatch));
    assert_eq!(a.event_seq(owner.id).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_token_rotated_through_two_hosts_at_once_rotates_once_and_replays_once() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "alice").await;
    let now = now_secs();
    for round in 0..10 {
        let jti = new_id();
        assert!(
            a.insert_refresh(
                NewRefresh {
                    jti: jti.clone(),
                    user_id: owner.id,
                    expires_at: now + 3600,
                },
                0,
                now,
            )
            .await
            .unwrap(),
            "the account is active at generation 0"
        );
        let issue = move |host: &'static str| {
            move |user_id: i64, _generation: i64| {
                (
                    format!("pair from {host} in round {round}"),
                    NewRefresh {
                        jti: new_id(),
                        user_id,
                        expires_at: now + 3600,
                    },
                )
            }
        };
        let at = now_secs_f64();
        let (ra, rb) = tokio::join!(
            tokio::spawn({
                let (a, jti) = (a.clone(), jti.clone());
                async move { a.rotate_refresh(jti, 0, at, 10.0, issue("a")).await }
            }),
            tokio::spawn({
                let (b, jti) = (b.clone(), jti.clone());
                async move { b.rotate_refresh(jti, 0, at, 10.0, issue("b")).await }
            }),
        );
        let outcomes = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
        let (rotated, replayed) = match outcomes {
            (Rotation::Rotated(p), Rotation::Replayed(q))
            | (Rotation::Replayed(q), Rotation::Rotated(p)) => (p, q),
            other => panic!("round {round}: expected one rotation and one replay, got {other:?}"),
        };
        assert_eq!(
            rotated, replayed,
            "round {round}: the replay is the same pair"
        );

        // After the grace window, presenting it again is reuse.
        let late = b
            .rotate_refresh(jti, 0, at + 11.0, 10.0, issue("late"))
            .await
            .unwrap();
        assert!(matches!(late, Rotation::ReuseDetected), "{late:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_lets_one_of_two_hosts_change_a_version() {
    let Some(db) = fresh_pg().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "alice").await;
    let (t, _) = a
        .create_task(owner.clone(), task("Contended"), write_rule)
        .await
        .unwrap();
    let change = |title: &str| TaskChanges {
        title: Some(title.into()),
        ..TaskChanges::default()
    };
    let v1 = || Some(IfMatch::Versions(vec![1]));
    let (ra, rb) = tokio::join!(
        a.update_task(owner.clone(), t.id, change("From host a"), v1(), write_rule),
        b.update_task(owner.clone(), t.id, change("From host b"), v1(), write_rule),
    );
    let (won, lost) = match (ra, rb) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected one success and one 412, got {other:?}"),
    };
    assert_eq!(won.0.version, 2);
    assert!(matches!(lost, StoreError::Stale { current: 2 }), "{lost:?}");
    let deleted = b.delete_task(owner.clone(), t.id, v1(), write_rule).await;
    assert!(matches!(deleted, Err(StoreError::Stale { current: 2 })));
    assert_eq!(a.event_seq(owner.id).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_starting_at_once_migrate_once_and_a_newer_schema_is_refused() {
    let Some(db) = fresh_pg().await else { return };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { Store::connect_postgres(&url, 2).await })
        })
        .collect();
    let latest = tasklane::store::postgres::admin::latest_schema_version();
    for s in starts {
        let store = s.await.unwrap().expect("every host starts");
        assert_eq!(store.schema_version().await.unwrap(), latest);
        assert_eq!(store.latest_schema_version(), latest);
        assert_eq!(store.backend_name(), "postgres");
    }
    let c = pg_connect(&db.url).await;
    let steps: i64 = c
        .query_one(
            "SELECT count(*) FROM tasklane_migrations WHERE version <= $1",
            &[&(latest as i32)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, latest);

    c.execute(
        "INSERT INTO tasklane_migrations (version, applied_at) VALUES (99, 'the future')",
        &[],
    )
    .await
    .unwrap();
    let Err(e) = Store::connect_postgres(&db.url, 2).await else {
        panic!("a newer schema was accepted")
    };
    assert!(e.to_string().contains("newer than this binary"), "{e}");
}
