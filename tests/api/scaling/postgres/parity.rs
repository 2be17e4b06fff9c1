//! PostgreSQL gives what SQLite gives: unique violations naming the field, search and
//! ordering byte for byte.

use serde_json::Value;
use tasklane::clock::now_secs_f64;
use tasklane::domain::projects::task_rules::write_rule;
use tasklane::model::Ordering;
use tasklane::store::tasks::{NewTask, TaskQuery};
use tasklane::store::users::AccountUpdate;
use tasklane::store::{Store, StoreError, Synchronous};

use crate::helpers::*;

use super::{account, everything, two_hosts};

#[tokio::test]
async fn unique_violations_name_the_field_like_sqlite() {
    let Some(db) = fresh_pg().await else { return };
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
    let Some(db) = fresh_pg().await else { return };
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
                // Ties, and tasks without a due date, for the `due_at` orders.
                due_at: (i % 4 != 0)
                    .then(|| format!("2026-12-0{}T10:00:00.000000Z", i % 3 + 1).into()),
                assignee: None,
                project: None,
            };
            store
                .create_task(owner.clone(), new, write_rule)
                .await
                .unwrap();
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
        Ordering::DueAt,
        Ordering::DueAtDesc,
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
                    ..TaskQuery::default()
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
