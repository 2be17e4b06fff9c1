//! Credentials end when they should: a password reset or a deactivation ends every older
//! credential within two seconds, streams on an ended session included.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

/// Polls `GET path` with `token` until it is refused; fails unless that happens within
/// `within` of `since`.
async fn refused_within(app: &TestApp, path: &str, token: &str, since: Instant, within: Duration) {
    loop {
        let r = app.get(path, token).await;
        if r.status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            since.elapsed() < within,
            "{path} still answered 200 {:?} after the change",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_password_reset_ends_every_older_credential_within_two_seconds() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("reset1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;
    let (bystander, _) = app.user("bystander1").await;
    // Warm the account cache, as a busy server would have it.
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/tasks/", &script).await.status, StatusCode::OK);

    let new_password = "Blue-Mariposa-42";
    let changed = user(
        &app,
        &["set-password", "--username", "reset1", "--password-stdin"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    let at = Instant::now();
    changed.ok();
    assert!(
        changed
            .stdout
            .contains("1 refresh token and 1 API token revoked"),
        "{changed:?}"
    );

    refused_within(&app, "/api/users/me/", &access, at, Duration::from_secs(2)).await;
    refused_within(&app, "/api/tasks/", &script, at, Duration::from_secs(2)).await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("reset1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A login right after the change (often in the same second) works at once.
    let fresh = app.login("reset1", new_password).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    let fresh = fresh.json();
    let r = app
        .get("/api/users/me/", fresh["access"].as_str().unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.refresh(fresh["refresh"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Nobody else was touched.
    assert_eq!(
        app.get("/api/users/me/", &bystander).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deactivation_ends_every_credential_and_reactivation_brings_none_back() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("pause1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;

    user(&app, &["deactivate", "--username", "pause1"], None)
        .await
        .ok();
    user(&app, &["activate", "--username", "pause1"], None)
        .await
        .ok();
    let at = Instant::now();

    refused_within(&app, "/api/users/me/", &access, at, Duration::from_secs(2)).await;
    refused_within(&app, "/api/tasks/", &script, at, Duration::from_secs(2)).await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("pause1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_stream_on_an_ended_session_closes_with_4003() {
    let app = spawn_app().await;
    let (access, _) = app.user("stream1").await;
    let mut ws = app.ws(&access, None).await;

    user(
        &app,
        &["set-password", "--username", "stream1", "--password-stdin"],
        Some("Blue-Mariposa-42\n"),
    )
    .await
    .ok();

    match ws.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(Some(4003), reason) => assert!(reason.contains("since="), "{reason}"),
        other => panic!("expected close 4003, got {other:?}"),
    }
}
