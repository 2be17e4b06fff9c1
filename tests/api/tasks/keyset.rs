//! Keyset pages and totals against a reference: random tasks (personal, and in two
//! shared projects), changed, moved and deleted at random, listed with random filters and
//! orderings by following `Link` page after page, with the list cache on and off. Every
//! walk must be exactly the reference's order of the matching tasks, computed here from
//! the tasks as the API answered them, and `X-Total-Count` its length. A forged cursor,
//! or one made for another ordering, is a 400 naming `cursor`.

use std::cmp::Ordering as Cmp;
use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::projects::{add_member, my_id, new_project};

/// A small seeded generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const ORDERINGS: &[&str] = &[
    "id",
    "-id",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "due_at",
    "-due_at",
];

const DUES: &[Option<&str>] = &[
    None,
    None,
    Some("2026-12-01T00:00:00.000000Z"),
    Some("2026-12-01T00:00:00.000000Z"),
    Some("2026-12-02T08:30:00.000000Z"),
    Some("2027-01-15T12:00:00.000000Z"),
];

const TITLES: &[&str] = &[
    "Alpha task",
    "Beta task",
    "Beta task",
    "gamma task",
    "Zulu task",
];

/// `a` against `b` in `ordering`, as the API documents it (ties by id, tasks without a
/// due date last in both `due_at` orders).
fn compare(ordering: &str, a: &Value, b: &Value) -> Cmp {
    let desc = ordering.starts_with('-');
    let field = ordering.trim_start_matches('-');
    let id = |t: &Value| t["id"].as_i64().unwrap();
    let text = |t: &Value| t[field].as_str().map(str::to_owned);
    let by_id = || {
        let c = id(a).cmp(&id(b));
        if desc { c.reverse() } else { c }
    };
    if field == "id" {
        return by_id();
    }
    let (ka, kb) = (text(a), text(b));
    let key = match (&ka, &kb) {
        (None, None) => Cmp::Equal,
        (None, Some(_)) => return Cmp::Greater,
        (Some(_), None) => return Cmp::Less,
        (Some(x), Some(y)) => {
            let c = x.as_bytes().cmp(y.as_bytes());
            if desc { c.reverse() } else { c }
        }
    };
    key.then_with(by_id)
}

/// Whether task `t` passes the query's filters (`me` is the viewer).
fn passes(t: &Value, filters: &[(&str, String)]) -> bool {
    filters.iter().all(|(name, v)| match *name {
        "completed" => t["completed"].as_bool().unwrap().to_string() == *v,
        "project" if v == "none" => t["project"].is_null(),
        "project" => t["project"].as_i64().map(|p| p.to_string()).as_ref() == Some(v),
        "due_before" => t["due_at"].as_str().is_some_and(|d| d <= v.as_str()),
        "due_after" => t["due_at"].as_str().is_some_and(|d| d >= v.as_str()),
        other => panic!("no filter {other}"),
    })
}

/// Follows `Link` from the first page of `query`: each page's tasks, as it gave them,
/// and its `X-Total-Count` (empty when absent). Every `Link` is a cursor, not an offset.
async fn pages(app: &TestApp, token: &str, query: &str) -> Vec<(Vec<Value>, String)> {
    let mut pages = Vec::new();
    let mut path = format!("/api/tasks/?{query}");
    for _ in 0..1000 {
        let r = app.get(&path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        let total = r.header("x-total-count").unwrap_or_default().to_owned();
        pages.push((r.json().as_array().unwrap().clone(), total));
        match r.header("link") {
            None => return pages,
            Some(link) => {
                assert!(!link.contains("offset="), "{link}");
                path = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned();
            }
        }
    }
    panic!("{query}: no end to the pages");
}

/// Every id of the walk of `query` in order, and each page's total.
async fn walk(app: &TestApp, token: &str, query: &str) -> (Vec<i64>, Vec<String>) {
    let mut ids = Vec::new();
    let mut totals = Vec::new();
    for (tasks, total) in pages(app, token, query).await {
        ids.extend(tasks.iter().map(|t| t["id"].as_i64().unwrap()));
        totals.push(total);
    }
    (ids, totals)
}

/// Every task of the walk of `query`, each as its page gave it.
async fn walk_tasks(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let pages = pages(app, token, query).await;
    pages.into_iter().flat_map(|(tasks, _)| tasks).collect()
}

async fn patch(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{id}/"),
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

async fn pages_match_the_reference(cache_mb: u64, seed: u64) {
    let app = spawn_app_with(|a| a.list_cache_mb = cache_mb).await;
    let mut rng = Rng(seed);
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bobby1").await;
    let alice_id = my_id(&app, &alice).await;
    let p1 = new_project(&app, &alice, "Alice's project").await["id"].clone();
    let p2 = new_project(&app, &bob, "Bob's project").await["id"].clone();
    add_member(&app, &alice, &p1, "bobby1", &bob, "editor").await;
    add_member(&app, &bob, &p2, "alice1", &alice, "editor").await;
    let projects = [Value::Null, p1.clone(), p2.clone()];
    // Every task as last answered, by id (alice's view is filtered from it).
    let mut tasks: BTreeMap<i64, Value> = BTreeMap::new();
    for _ in 0..45 {
        let token = if rng.below(3) == 0 { &bob } else { &alice };
        let body = json!({
            "title": rng.pick(TITLES),
            "completed": rng.below(2) == 0,
            "due_at": rng.pick(DUES),
            "project": rng.pick(&projects),
        });
        let r = app.create_task(token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let t = r.json();
        tasks.insert(t["id"].as_i64().unwrap(), t);
    }
    for round in 0..3 {
        // Changes, moves and deletes between the listings.
        if round > 0 {
            for _ in 0..12 {
                let ids: Vec<i64> = tasks
                    .iter()
                    .filter(|(_, t)| t["user"]["id"] == alice_id)
                    .map(|(id, _)| *id)
                    .collect();
                let id = *rng.pick(&ids);
                let t = match rng.below(5) {
                    0 => {
                        let r = app
                            .call(
                                Method::DELETE,
                                &format!("/api/tasks/{id}/"),
                                Some(&alice),
                                None,
                            )
                            .await;
                        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
                        tasks.remove(&id);
                        continue;
                    }
                    1 => patch(&app, &alice, id, json!({"project": rng.pick(&projects)})).await,
                    2 => patch(&app, &alice, id, json!({"due_at": rng.pick(DUES)})).await,
                    3 => patch(&app, &alice, id, json!({"title": rng.pick(TITLES)})).await,
                    _ => patch(&app, &alice, id, json!({"completed": rng.below(2) == 0})).await,
                };
                tasks.insert(id, t);
            }
        }
        let visible: Vec<&Value> = tasks
            .values()
            .filter(|t| !t["project"].is_null() || t["user"]["id"] == alice_id)
            .collect();
        for _ in 0..14 {
            let ordering = *rng.pick(ORDERINGS);
            let mut filters: Vec<(&str, String)> = Vec::new();
            if rng.below(3) == 0 {
                filters.push(("completed", (rng.below(2) == 0).to_string()));
            }
            if rng.below(3) == 0 {
                let p = rng.pick(&projects);
                filters.push((
                    "project",
                    if p.is_null() {
                        "none".into()
                    } else {
                        p.to_string()
                    },
                ));
            }
            if rng.below(4) == 0 {
                filters.push(("due_after", "2026-12-01T00:00:00.000000Z".into()));
            }
            if rng.below(4) == 0 {
                filters.push(("due_before", "2026-12-02T08:30:00.000000Z".into()));
            }
            let limit = 1 + rng.below(8);
            let mut query: Vec<(&str, String)> = filters.clone();
            query.push(("ordering", ordering.into()));
            query.push(("limit", limit.to_string()));
            // A total no counter keeps is counted when asked, else given when free.
            let counted = rng.below(2) == 0;
            if counted {
                query.push(("count", "true".into()));
            }
            let by_counters = filters
                .iter()
                .all(|(k, _)| matches!(*k, "completed" | "project"));
            let query = serde_urlencoded::to_string(&query).unwrap();
            let mut expected: Vec<&Value> = visible
                .iter()
                .copied()
                .filter(|t| passes(t, &filters))
                .collect();
            expected.sort_by(|a, b| compare(ordering, a, b));
            let expected: Vec<i64> = expected.iter().map(|t| t["id"].as_i64().unwrap()).collect();
            let (ids, totals) = walk(&app, &alice, &query).await;
            assert_eq!(ids, expected, "seed {seed}, round {round}: {query}");
            let one_page = totals.len() == 1;
            for total in totals {
                if counted || by_counters || one_page {
                    assert_eq!(total, expected.len().to_string(), "{query}");
                } else {
                    assert_eq!(total, "", "{query}: no total unless asked");
                }
            }
            // `offset` still pages as before.
            let skip = rng.below(expected.len() as u64 + 1) as usize;
            let r = app
                .list_tasks(&alice, &format!("?{query}&offset={skip}"))
                .await;
            let got: Vec<i64> = r
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            let want: Vec<i64> = expected
                .iter()
                .skip(skip)
                .take(limit as usize)
                .copied()
                .collect();
            assert_eq!(got, want, "{query}&offset={skip}");
        }
    }
}

#[tokio::test]
async fn keyset_pages_match_the_reference_with_the_list_cache() {
    pages_match_the_reference(16, 0x5eed_0001).await;
}

#[tokio::test]
async fn keyset_pages_match_the_reference_without_the_list_cache() {
    pages_match_the_reference(0, 0x5eed_0002).await;
}

#[tokio::test]
async fn a_forged_or_foreign_cursor_is_a_400_naming_it() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..3 {
        app.new_task(&token, &format!("Task number {i}")).await;
    }
    let first = app.list_tasks(&token, "?limit=1&ordering=title").await;
    let link = first.header("link").unwrap().to_owned();
    let cursor = link
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap();
    let ok = app
        .list_tasks(&token, &format!("?limit=1&ordering=title&cursor={cursor}"))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()[0]["title"], "Task number 1");
    for bad in [
        format!("?ordering=-title&cursor={cursor}"),
        format!("?cursor={cursor}"),
        "?cursor=not-a-cursor!".to_owned(),
        "?cursor=aWQKMQ".to_owned(),
        format!("?cursor={}", "A".repeat(3000)),
    ] {
        let r = app.list_tasks(&token, &bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.json()["cursor"].is_array(), "{bad}: {}", r.text);
    }
}

/// Walks while other clients write: creates, changes of every sort key, completions and
/// deletes, on the same user's list, all the time. Whatever they do between two pages, a
/// walk in any ordering is in order (each task as its page showed it sorts after the one
/// before: a cursor starts where the last page ended; a task whose key changed meanwhile
/// may show again at its new place, never out of order), by id it shows each task once,
/// and it shows every task that stood still through the whole walk. Once the writers
/// stop, a walk is the reference again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_walks_hold_while_others_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

    let app = Arc::new(spawn_app().await);
    let (token, _) = app.user("walker1").await;
    let mut still = Vec::new();
    for i in 0..90 {
        let mut body = json!({ "title": TITLES[i % TITLES.len()] });
        if let Some(due) = DUES[i % DUES.len()] {
            body["due_at"] = json!(due);
        }
        let r = app.create_task(&token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        still.push(r.json()["id"].as_i64().unwrap());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (app, token, stop) = (app.clone(), token.clone(), stop.clone());
            tokio::spawn(async move {
                let mut rng = Rng(0x51_7cc1_b727_220a ^ (w + 1));
                let mut mine: Vec<i64> = Vec::new();
                let mut writes = 0u32;
                while !stop.load(AtomicOrdering::Relaxed) {
                    writes += 1;
                    match rng.below(4) {
                        0 | 1 if mine.len() < 40 => {
                            let mut body = json!({ "title": rng.pick(TITLES) });
                            if let Some(due) = rng.pick(DUES) {
                                body["due_at"] = json!(due);
                            }
                            let r = app.create_task(&token, body).await;
                            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                            mine.push(r.json()["id"].as_i64().unwrap());
                        }
                        2 if !mine.is_empty() => {
                            let id = *rng.pick(&mine);
                            let body = match rng.below(3) {
                                0 => json!({ "title": rng.pick(TITLES) }),
                                1 => json!({ "due_at": rng.pick(DUES) }),
                                _ => json!({ "completed": rng.below(2) == 0 }),
                            };
                            patch(&app, &token, id, body).await;
                        }
                        _ if !mine.is_empty() => {
                            let id = mine.swap_remove(rng.below(mine.len() as u64) as usize);
                            let r = app
                                .call(
                                    Method::DELETE,
                                    &format!("/api/tasks/{id}/"),
                                    Some(&token),
                                    None,
                                )
                                .await;
                            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
                        }
                        _ => {}
                    }
                }
                writes
            })
        })
        .collect();
    for (round, ordering) in ORDERINGS.iter().cycle().take(20).enumerate() {
        let query = format!("ordering={ordering}&limit={}", 3 + round % 5);
        let tasks = walk_tasks(&app, &token, &query).await;
        for pair in tasks.windows(2) {
            assert_eq!(
                compare(ordering, &pair[0], &pair[1]),
                Cmp::Less,
                "{query}: {} then {}",
                pair[0],
                pair[1]
            );
        }
        let seen: std::collections::HashSet<i64> =
            tasks.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        if ordering.trim_start_matches('-') == "id" {
            assert_eq!(seen.len(), tasks.len(), "{query}: a task shown twice");
        }
        for id in &still {
            assert!(
                seen.contains(id),
                "{query}: task {id} stood still but was not shown"
            );
        }
    }
    stop.store(true, AtomicOrdering::Relaxed);
    let mut writes = 0;
    for w in writers {
        writes += w.await.unwrap();
    }
    assert!(writes > 40, "the writers wrote only {writes} times");
    let everything = walk_tasks(&app, &token, "limit=1000").await;
    for ordering in ORDERINGS {
        let mut expected: Vec<&Value> = everything.iter().collect();
        expected.sort_by(|a, b| compare(ordering, a, b));
        let expected: Vec<i64> = expected.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        let got: Vec<i64> = walk_tasks(&app, &token, &format!("ordering={ordering}&limit=7"))
            .await
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected, "ordering={ordering}");
    }
}
