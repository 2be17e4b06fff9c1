//! What only PostgreSQL has to prove: two `Store`s on one database are two hosts, and
//! the guarantees SQLite gets from its single writer must hold between them. Also the
//! settings that only exist there: migrations racing, `synchronous_commit`, TLS, the URL's
//! password, and search and ordering byte for byte as on SQLite.
//!
//! Needs a PostgreSQL server: `TASKLANE_TEST_DATABASE_URL`, else
//! postgres://postgres@127.0.0.1:5432/postgres; each test makes a database of its own
//! there. When the server is unreachable the tests say so loudly and skip, unless
//! `REQUIRE_POSTGRES=1` (CI), where they fail.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;

use serde_json::Value;
use tasklane::clock::{new_id, now_secs, now_secs_f64, now_timestamp};
use tasklane::model::{Ordering, User};
use tasklane::store::idempotency::{Key, Keyed};
use tasklane::store::tasks::{IfMatch, NewTask, TaskChanges, TaskQuery};
use tasklane::store::tokens::{NewRefresh, Rotation};
use tasklane::store::users::AccountUpdate;
use tasklane::store::{Store, StoreError, Synchronous};

use crate::helpers::*;

/// The server these tests use, or None (skip) when it is unreachable and not required.
pub(crate) async fn server() -> Option<String> {
    let url = suite_postgres()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let reachable = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    match reachable {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            drop(client);
            Some(url)
        }
        Ok(Err(e)) => skip_or_fail(&format!("PostgreSQL at {url} refused us ({e})")),
        Err(_) => skip_or_fail(&format!("PostgreSQL at {url} did not answer")),
    }
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("{why}, and REQUIRE_POSTGRES=1");
    }
    eprintln!(
        "\n*** SKIPPED: {why}; set TASKLANE_TEST_DATABASE_URL or start PostgreSQL \
         (REQUIRE_POSTGRES=1 makes this fail) ***\n"
    );
    None
}

/// A new empty database on the server, or None (skip).
pub(crate) async fn fresh() -> Option<PgDatabase> {
    Some(PgDatabase::create(&server().await?).await)
}

/// Two hosts: two stores, each with its own pool, on one database.
async fn two_hosts(db: &PgDatabase) -> (Store, Store) {
    let a = Store::connect_postgres(&db.url, 8).await.expect("host a");
    let b = Store::connect_postgres(&db.url, 8).await.expect("host b");
    (a, b)
}

async fn account(store: &Store, name: &str) -> User {
    store
        .create_user(name.into(), format!("{name}@example.com"), "hash".into())
        .await
        .expect("create user")
}

fn task(title: &str) -> NewTask {
    NewTask {
        title: title.into(),
        description: None,
        completed: false,
    }
}

fn everything() -> TaskQuery {
    TaskQuery {
        limit: 1000,
        ..TaskQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_writing_for_one_user_hand_out_gapless_event_ids_in_commit_order() {
    let Some(db) = fresh().await else { return };
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
                    .create_task(owner.clone(), task(&format!("Writer {w} round {r}")))
                    .await
                    .unwrap();
                let changes = TaskChanges {
                    completed: Some(true),
                    ..TaskChanges::default()
                };
                store
                    .update_task(owner.clone(), t.id, changes, None)
                    .await
                    .unwrap();
                store.delete_task(owner.clone(), t.id, None).await.unwrap();
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
    let Some(db) = fresh().await else { return };
    let (a, b) = two_hosts(&db).await;
    let mut owners = Vec::new();
    for name in ["ann", "bob", "cyd", "dee", "eve"] {
        owners.push(account(&a, name).await);
    }
    // One owner is gone before the creates: theirs fail alone, the others' commit.
    let gone = account(&a, "gone").await;
    assert!(a.delete_account(gone.id).await.unwrap());
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
                .create_task(owner.clone(), task(&format!("Create number {i}")))
                .await;
            (i % 2 == 0, owner, out)
        }));
    }
    let mut created = BTreeMap::<i64, Vec<_>>::new();
    let (mut refused, mut created_on_a) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            (on_a, owner, Ok((t, e))) => {
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
    let Some(db) = fresh().await else { return };
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
        b.create_task(owners[k].clone(), task(&format!("Round {round} task")))
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
    let Some(db) = fresh().await else { return };
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
                .create_task_once(owner, task("Created once"), key)
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
    assert_eq!((page.total, page.last_event_id), (1, 1));

    // Another request under the key is refused, and took no event id.
    let other = a
        .create_task_once(owner.clone(), task("Something else"), key("other body"))
        .await
        .unwrap();
    assert!(matches!(other, Keyed::Mismatch));
    assert_eq!(a.event_seq(owner.id).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_token_rotated_through_two_hosts_at_once_rotates_once_and_replays_once() {
    let Some(db) = fresh().await else { return };
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
    let Some(db) = fresh().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "alice").await;
    let (t, _) = a
        .create_task(owner.clone(), task("Contended"))
        .await
        .unwrap();
    let change = |title: &str| TaskChanges {
        title: Some(title.into()),
        ..TaskChanges::default()
    };
    let v1 = || Some(IfMatch::Versions(vec![1]));
    let (ra, rb) = tokio::join!(
        a.update_task(owner.clone(), t.id, change("From host a"), v1()),
        b.update_task(owner.clone(), t.id, change("From host b"), v1()),
    );
    let (won, lost) = match (ra, rb) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected one success and one 412, got {other:?}"),
    };
    assert_eq!(won.0.version, 2);
    assert!(matches!(lost, StoreError::Stale { current: 2 }), "{lost:?}");
    let deleted = b.delete_task(owner.clone(), t.id, v1()).await;
    assert!(matches!(deleted, Err(StoreError::Stale { current: 2 })));
    assert_eq!(a.event_seq(owner.id).await.unwrap(), 2);
}

#[tokio::test]
async fn unique_violations_name_the_field_like_sqlite() {
    let Some(db) = fresh().await else { return };
    let (a, b) = two_hosts(&db).await;
    let alice = account(&a, "alice").await;
    let taken = b
        .create_user("alice".into(), "other@example.com".into(), "h".into())
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(ref f)) if f == &["username"]),
        "{taken:?}"
    );
    // Emails are unique ignoring ASCII case only (SQLite's NOCASE).
    let taken = b
        .create_user("bob".into(), "ALICE@Example.com".into(), "h".into())
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(ref f)) if f == &["email"]),
        "{taken:?}"
    );
    assert_eq!(
        b.taken_account_fields(Some("alice".into()), Some("Alice@EXAMPLE.com".into()), None)
            .await
            .unwrap(),
        ["username", "email"]
    );
    assert_eq!(
        b.taken_account_fields(Some("Alice".into()), None, None)
            .await
            .unwrap(),
        Vec::<&str>::new(),
        "usernames are case-sensitive"
    );
    b.create_user("eve".into(), "Ève@example.com".into(), "h".into())
        .await
        .unwrap();
    b.create_user("eve2".into(), "ève@example.com".into(), "h".into())
        .await
        .expect("non-ASCII letters are not folded, as in SQLite");
    let bob = account(&b, "bob").await;
    let rename = a
        .update_account(
            bob.id,
            AccountUpdate {
                username: Some("alice".into()),
                ..AccountUpdate::default()
            },
            now_secs_f64(),
        )
        .await;
    assert!(
        matches!(rename, Err(StoreError::Conflict(ref f)) if f == &["username"]),
        "{rename:?}"
    );
    let gone = a
        .update_account(999, AccountUpdate::default(), now_secs_f64())
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    assert!(matches!(
        a.get_task(alice.clone(), 12345).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        a.event_cursor(999).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn commits_wait_for_the_wal_flush_whatever_the_database_default() {
    let Some(db) = fresh().await else { return };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_starting_at_once_migrate_once_and_a_newer_schema_is_refused() {
    let Some(db) = fresh().await else { return };
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

/// The titles of a page, in order.
fn titles(json: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_and_ordering_give_what_sqlite_gives() {
    let Some(db) = fresh().await else { return };
    let pg = Store::connect_postgres(&db.url, 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parity.db");
    let sqlite =
        tokio::task::spawn_blocking(move || Store::open_sqlite(&path, 2, Synchronous::Full))
            .await
            .unwrap()
            .unwrap();
    let titles_in = [
        "Straße ÄBC",
        "strasse abc",
        "ABC abc",
        "a_b%c\\ d",
        "Zebra stripes",
        "apple pie",
        "Éclair time",
        "éclair time",
        "10% done",
        "ÉCLAIR TIME",
        "under_score",
        "back\\slash",
        "Ünïcödé ✓ \u{1F600}",
        "zz top",
        "Zz Top",
    ];
    let mut owners = Vec::new();
    for store in [&sqlite, &pg] {
        let owner = account(store, "parity").await;
        for (i, t) in titles_in.iter().enumerate() {
            let new = NewTask {
                title: (*t).into(),
                description: (i % 3 == 0).then(|| format!("Described as {} {t}", i * 7)),
                completed: i % 2 == 0,
            };
            store.create_task(owner.clone(), new).await.unwrap();
        }
        owners.push(owner);
    }
    let searches = [
        None,
        Some("abc"),
        Some("ÄBC"),
        Some("äbc"),
        Some("STRASSE"),
        Some("ß"),
        Some("É"),
        Some("é"),
        Some("éclair"),
        Some("%"),
        Some("_"),
        Some("\\"),
        Some("a_b%c\\"),
        Some("described AS 2"),
        Some("ÜNÏ"),
        Some("\u{1F600}"),
        Some("zz"),
    ];
    let orders = [
        Ordering::Id,
        Ordering::IdDesc,
        Ordering::Title,
        Ordering::TitleDesc,
        Ordering::CreatedAt,
        Ordering::UpdatedAtDesc,
    ];
    for search in searches {
        for ordering in orders {
            for completed in [None, Some(true)] {
                let q = TaskQuery {
                    completed,
                    search: search.map(str::to_owned),
                    ordering,
                    limit: 4,
                    offset: 1,
                };
                let s = sqlite
                    .list_tasks(owners[0].clone(), q.clone())
                    .await
                    .unwrap();
                let p = pg.list_tasks(owners[1].clone(), q.clone()).await.unwrap();
                assert_eq!(titles(&p.json), titles(&s.json), "{q:?}");
                assert_eq!((p.total, p.count), (s.total, s.count), "{q:?}");
            }
        }
    }
    // And the bytes: the same task renders the same on both (but for its timestamps).
    let one = |json: &[u8]| -> Value {
        let mut v: Value = serde_json::from_slice(json).unwrap();
        for t in v.as_array_mut().unwrap() {
            t["created_at"] = Value::Null;
            t["updated_at"] = Value::Null;
        }
        v
    };
    let s = sqlite
        .list_tasks(owners[0].clone(), everything())
        .await
        .unwrap();
    let p = pg
        .list_tasks(owners[1].clone(), everything())
        .await
        .unwrap();
    assert_eq!(one(&p.json), one(&s.json));
    let pt: Vec<Value> = serde_json::from_slice(&p.json).unwrap();
    let task = pg.get_task(owners[1].clone(), 1).await.unwrap();
    assert_eq!(pt[0], serde_json::to_value(&task).unwrap());
}

#[tokio::test]
async fn the_urls_password_never_shows() {
    let Some(db) = fresh().await else { return };
    let Some(with_password) = db
        .url
        .split_once("://")
        .filter(|(_, rest)| {
            rest.split_once('@')
                .is_some_and(|(user, _)| !user.contains(':'))
        })
        .map(|(scheme, rest)| {
            let (user, host) = rest.split_once('@').unwrap();
            format!("{scheme}://{user}:hunter2-db-password@{host}")
        })
    else {
        eprintln!("skipped: the server URL already carries a password");
        return;
    };
    // A server that runs (trust authentication ignores the password)…
    let p = spawn_tasklane_on_url(&with_password, &[]);
    let log = p.log();
    assert!(log.contains(":***@"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    drop(p);
    // …and commands that fail on it.
    let missing = with_database(&with_password, "tasklane_no_such_database");
    for args in [
        vec!["user", "list", "--database-url", &missing],
        vec!["migrate", "--database-url", &missing],
        vec!["token", "list", "--user", "x", "--database-url", &missing],
    ] {
        let run = crate::cli::tasklane(&args, None).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(run.stderr.contains("does not exist"), "{run:?}");
        assert!(run.stderr.contains(":***@"), "{run:?}");
        assert!(!run.stderr.contains("hunter2"), "{run:?}");
    }
}

#[tokio::test]
async fn sslmode_decides_whether_the_connection_is_encrypted() {
    let Some(db) = fresh().await else { return };
    let admin = pg_connect(&db.url).await;
    let offered: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let encrypted = |app: &'static str| {
        let (admin, name) = (&admin, name.clone());
        async move {
            let row = admin
                .query_one(
                    "SELECT count(*), coalesce(bool_and(s.ssl), false)
                     FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                     WHERE a.datname = $1 AND a.application_name = $2",
                    &[&name, &app],
                )
                .await
                .unwrap();
            let n: i64 = row.get(0);
            assert!(n > 0, "no connection of {app}");
            row.get::<_, bool>(1)
        }
    };
    let url = |params: &str| format!("{}?{params}", db.url);
    let plain = Store::connect_postgres(&url("sslmode=disable&application_name=tl_plain"), 1)
        .await
        .unwrap();
    plain.ping().await.unwrap();
    assert!(!encrypted("tl_plain").await);
    if offered != "on" {
        eprintln!("the server offers no TLS: only `disable` and the refusal of `require` checked");
        let Err(e) = Store::connect_postgres(&url("sslmode=require"), 1).await else {
            panic!("sslmode=require connected without TLS")
        };
        assert!(e.to_string().contains("TLS"), "{e}");
        return;
    }
    let required = Store::connect_postgres(&url("sslmode=require&application_name=tl_tls"), 1)
        .await
        .unwrap();
    required.ping().await.unwrap();
    assert!(encrypted("tl_tls").await);
    let preferred = Store::connect_postgres(&url("application_name=tl_prefer"), 1)
        .await
        .unwrap();
    preferred.ping().await.unwrap();
    assert!(encrypted("tl_prefer").await, "prefer is the default");
    // No certificate a public root vouches for is valid for 127.0.0.1.
    if db.url.contains("@127.0.0.1") {
        let Err(e) = Store::connect_postgres(&url("sslmode=verify-full"), 1).await else {
            panic!("verify-full accepted the local server's certificate for 127.0.0.1")
        };
        assert!(e.to_string().contains("certificate"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_sweepers_and_an_account_deletion_on_two_hosts_never_deadlock() {
    let Some(db) = fresh().await else { return };
    let (a, b) = two_hosts(&db).await;
    let owner = account(&a, "busy").await;
    let victim = account(&b, "victim").await;
    let now = now_secs();
    for i in 0..20 {
        b.create_task(victim.clone(), task(&format!("Victim task {i}")))
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
                            .create_task(owner.clone(), task(&format!("W{w} {i}")))
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
                        let r = store.update_task(owner.clone(), id, changes, None).await;
                        fine(r.map(|_| ()), "update");
                    }
                    3 => {
                        if let Some(id) = ids.pop() {
                            let r = store
                                .delete_task(owner.clone(), id, Some(IfMatch::Any))
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
                            .create_task_once(owner.clone(), task("Keyed"), key)
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
            .create_task(a.clone(), task(&format!("Old a {i}")))
            .await
            .unwrap();
    }
    for i in 0..2 {
        store
            .create_task(b.clone(), task(&format!("Old b {i}")))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cutoff = now_timestamp();
    tokio::time::sleep(Duration::from_millis(5)).await;
    for i in 0..2 {
        store
            .create_task(a.clone(), task(&format!("New a {i}")))
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
            .create_task_once(a.clone(), task("Keyed"), key)
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
    let Some(db) = fresh().await else { return };
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
