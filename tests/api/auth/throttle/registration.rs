//! Registration throttling: per address, and every attempt counts, whether it succeeds,
//! fails, or is invalid.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let app = spawn_app_with(|a| a.registrations_per_address = 2).await;
    assert_eq!(
        app.register("u1", "u1@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.register("u2", "u2@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let r = app.register("u3", "u3@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn registrations_count_whether_they_succeed_or_fail() {
    let app = spawn_app_with(|a| a.registrations_per_address = 3).await;
    assert_eq!(
        app.register("alice1", "alice1@example.com", PASSWORD)
            .await
            .status,
        StatusCode::CREATED
    );

    // Probing whether names are taken costs attempts too.
    for probe in ["alice1", "alice1"] {
        let r = app.register(probe, "probe@example.com", PASSWORD).await;
        assert_eq!(
            r.text,
            r#"{"username":["A user with that username already exists."]}"#
        );
    }
    let r = app.register("alice1", "probe@example.com", PASSWORD).await;

    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // A fresh, valid registration from the same address waits as well.
    let r = app.register("carol1", "carol1@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn invalid_registrations_count_too() {
    let app = spawn_app_with(|a| a.registrations_per_address = 2).await;
    for _ in 0..2 {
        let r = app.register("bad user!", "not-an-email", "123").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = app.register("carol1", "carol1@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}
