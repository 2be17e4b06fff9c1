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
