//! Access and refresh tokens: rotation and its grace window, revocation, and what each
//! kind of token is good for.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_spent() {
    // Arrange: no grace window, so a second use is reuse at once.
    let app = spawn_app_with(|a| a.refresh_grace = Duration::ZERO).await;
    let (_, refresh) = app.user("alice1").await;

    // Act
    let first = app.refresh(&refresh).await;
    let again = app.refresh(&refresh).await;

    // Assert
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let keys: Vec<String> = first.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access", "refresh"]);
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.json()["code"], "token_not_valid");
    // Reuse revoked the whole family, including the token it was rotated into.
    let next = first.json()["refresh"].as_str().unwrap().to_owned();
    let r = app.refresh(&next).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // The new access token works meanwhile (access tokens are not revoked early).
    let access = first.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refresh_retried_within_the_grace_window_gets_the_same_pair() {
    let app = spawn_app().await; // default grace: 10 s
    let (_, refresh) = app.user("alice1").await;
    let (a, b) = tokio::join!(app.refresh(&refresh), app.refresh(&refresh));
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(a.text, b.text);
    // And the pair it got still rotates normally.
    let next = a.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(app.refresh(&next).await.status, StatusCode::OK);
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    let r = app.refresh(&access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.text,
        r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#
    );
    let r = app.get("/api/tasks/", &refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["messages"][0]["message"], "Token has wrong type");
    let r = app.refresh("garbage").await;
    assert_eq!(
        r.text,
        r#"{"detail":"Token is invalid or expired","code":"token_not_valid"}"#
    );
    let r = app
        .call(Method::POST, "/api/token/refresh/", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.text, r#"{"refresh":["This field is required."]}"#);
}

#[tokio::test]
async fn revoking_a_refresh_token_logs_out_its_family() {
    let app = spawn_app().await;
    let (_, refresh) = app.user("alice1").await;
    let rotated = app.refresh(&refresh).await.json()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::POST,
            "/api/token/revoke/",
            None,
            Some(json!({ "refresh": rotated })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.refresh(&rotated).await.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::POST,
            "/api/token/revoke/",
            None,
            Some(json!({ "refresh": "nope" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Every value (as text) in every table of the database.
async fn all_text(app: &TestApp) -> Vec<String> {
    let c = db(app).await;
    let mut out = Vec::new();
    for t in c.tables().await {
        for row in c.rows(&format!("SELECT * FROM \"{t}\""), &[]).await {
            out.extend(row.into_iter().flatten());
        }
    }
    out
}

#[tokio::test]
async fn a_rotated_pair_is_forgotten_once_its_grace_window_passes() {
    let app = spawn_app_with(|a| a.refresh_grace = Duration::from_secs(1)).await;
    let (_, refresh) = app.user("sweep1").await;
    let rotated = app.refresh(&refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_refresh = rotated.json()["refresh"].as_str().unwrap().to_owned();
    // Within the window the pair is kept, so a retry gets the same answer.
    assert!(
        all_text(&app)
            .await
            .iter()
            .any(|s| s.contains(&new_refresh))
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let jwts: Vec<String> = all_text(&app)
        .await
        .into_iter()
        .filter(|s| s.contains("eyJ"))
        .collect();
    assert!(jwts.is_empty(), "JWTs left in the database: {jwts:?}");
    // A replay now is reuse: the family is revoked, the successor included.
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&new_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}
