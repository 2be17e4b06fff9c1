//! Optimistic concurrency: task versions, `ETag`, `If-Match` and `If-None-Match`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn etags_and_if_match_prevent_lost_updates() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Shared task").await;
    assert_eq!(t["version"], 1);
    let path = format!("/api/tasks/{}/", t["id"]);

    let got = app.get(&path, &token).await;
    assert_eq!(got.header("etag"), Some("\"v1\""));
    let r = app
        .with_header(Method::GET, &path, &token, "if-none-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.text, "");

    let ok = app
        .with_header(
            Method::PATCH,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("etag"), Some("\"v2\""));
    assert_eq!(ok.json()["version"], 2);

    let stale = app
        .with_header(
            Method::PUT,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"title": "Overwrite"})),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.json()["detail"]
            .as_str()
            .unwrap()
            .contains("version 2")
    );
    let r = app
        .with_header(Method::DELETE, &path, &token, "if-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app
        .with_header(Method::GET, &path, &token, "if-none-match", "\"v1\"", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Without the headers, nothing changes for old clients.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"title": "No precondition"})),
        )
        .await;
    assert_eq!(r.json()["version"], 3);
    let r = app
        .with_header(Method::DELETE, &path, &token, "if-match", "*", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn of_concurrent_conflicting_edits_exactly_one_wins() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Contended task").await;
    let path = format!("/api/tasks/{}/", t["id"]);
    let edits = (0..12).map(|i| {
        app.with_header(
            Method::PATCH,
            &path,
            &token,
            "if-match",
            "\"v1\"",
            Some(json!({"title": format!("Edit number {i}")})),
        )
    });
    let results = futures_util::future::join_all(edits).await;
    let winners: Vec<&Resp> = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::PRECONDITION_FAILED)
    );
    let now = app.get(&path, &token).await.json();
    assert_eq!(now["title"], winners[0].json()["title"]);
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn a_list_etag_gives_304_until_the_list_changes() {
    let app = spawn_app().await;
    let (token, _) = app.user("lister").await;
    app.new_task(&token, "First task").await;
    let list = app.list_tasks(&token, "").await;
    let tag = list
        .header("etag")
        .expect("the list has an ETag")
        .to_owned();
    assert_eq!(list.header("x-last-event-id"), Some("1"));

    let again = app
        .with_header(
            Method::GET,
            "/api/tasks/",
            &token,
            "if-none-match",
            &tag,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.text, "");
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    let weak = format!("\"other\", W/{tag}");
    let r = app
        .with_header(
            Method::GET,
            "/api/tasks/",
            &token,
            "if-none-match",
            &weak,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // Another page of the same list is another representation.
    let r = app
        .with_header(
            Method::GET,
            "/api/tasks/?completed=true",
            &token,
            "if-none-match",
            &tag,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!([]));

    // Any change to the user's tasks makes it a new list.
    let t = app.new_task(&token, "Second task").await;
    let r = app
        .with_header(
            Method::GET,
            "/api/tasks/",
            &token,
            "if-none-match",
            &tag,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let tag2 = r.header("etag").unwrap().to_owned();
    assert_ne!(tag2, tag);
    let path = format!("/api/tasks/{}/", t["id"]);
    app.call(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"completed": true})),
    )
    .await;
    let r = app
        .with_header(
            Method::GET,
            "/api/tasks/",
            &token,
            "if-none-match",
            &tag2,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[1]["completed"], true);
    assert_eq!(r.header("x-last-event-id"), Some("3"));
}

#[tokio::test]
async fn a_kept_list_page_is_never_stale_nor_anothers() {
    // Two servers on one file and no Redis: neither hears of the other's writes, so a
    // kept page is only ever served after the database says it is current.
    let a = spawn_app().await;
    let b = start(a.dir.clone(), a.args.clone()).await;
    let (alice, _) = a.user("alice").await;
    let (bob, _) = a.user("bob").await;
    for round in 0..5 {
        // Read through A (and keep the page there), write through B, read through A.
        let before = a.list_tasks(&alice, "").await.json();
        assert_eq!(before.as_array().unwrap().len(), round);
        b.new_task(&alice, &format!("Written through B #{round}"))
            .await;
        let after = a.list_tasks(&alice, "").await;
        assert_eq!(
            after.json().as_array().unwrap().len(),
            round + 1,
            "stale page"
        );
        assert_eq!(
            after.header("x-last-event-id"),
            Some(&*(round + 1).to_string())
        );
    }
    // Same query, another user: their own (empty) list, not alice's kept page.
    assert_eq!(a.list_tasks(&bob, "").await.json(), json!([]));

    // A change made outside the API entirely (an edited row) is seen too, as soon as it
    // moves the user's sequence, as every API write does in the same transaction.
    let page = a.list_tasks(&alice, "").await.json();
    let id = page[0]["id"].as_i64().unwrap();
    let db = db(&a).await;
    db.execute(
        "UPDATE tasks SET title = 'Edited in place'  WHERE id = ?1",
        &[&id],
    )
    .await;
    db.execute(
        "UPDATE users SET event_seq = event_seq + 1 WHERE username = 'alice'",
        &[],
    )
    .await;
    assert_eq!(
        a.list_tasks(&alice, "").await.json()[0]["title"],
        "Edited in place"
    );
}

#[tokio::test]
async fn the_list_is_the_same_with_the_page_cache_off() {
    let cached = spawn_app().await;
    let plain = start(cached.dir.clone(), {
        let mut args = cached.args.clone();
        args.list_cache_mb = 0;
        args
    })
    .await;
    let (token, _) = cached.user("carol").await;
    for i in 0..3 {
        cached.new_task(&token, &format!("Carol's task {i}")).await;
    }
    for query in [
        "",
        "?ordering=-id",
        "?limit=2",
        "?limit=2&offset=2",
        "?completed=false",
    ] {
        let (x, y) = (
            cached.list_tasks(&token, query).await,
            plain.list_tasks(&token, query).await,
        );
        let x2 = cached.list_tasks(&token, query).await; // from the kept page
        assert_eq!(x.text, y.text, "{query}");
        assert_eq!(x2.text, y.text, "{query}");
        for h in ["etag", "x-total-count", "link", "x-last-event-id"] {
            assert_eq!(x.header(h), y.header(h), "{query} {h}");
            assert_eq!(x2.header(h), y.header(h), "{query} {h}");
        }
    }
}
