//! Registration: the original's route and its error messages, and usernames that are one
//! account however they are spelled. (Its throttle: `auth::throttle::registration`.)

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_originals_registration_route_accepts_json_and_forms() {
    let app = spawn_app().await;
    let r = app
        .call(
            Method::POST,
            "/api/users/",
            None,
            Some(json!({"username": "alice1", "email": "a@example.com", "password": PASSWORD, "is_staff": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .raw(
            Method::POST,
            "/api/users",
            None,
            "application/x-www-form-urlencoded",
            "username=bob1&email=bob1%40example.com&password=S3cure-Passw0rd%21x",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["email"], "bob1@example.com");
}

#[tokio::test]
async fn registration_errors_match_the_original() {
    let app = spawn_app().await;
    app.register("alice1", "alice1@example.com", PASSWORD).await;
    let cases = [
        (
            json!({"username": "u1", "email": "u1@example.com", "password": "password"}),
            r#"{"password":["This password is too common."]}"#,
        ),
        (
            json!({"username": "u1", "email": "u1@example.com", "password": "abc"}),
            r#"{"password":["This password is too short. It must contain at least 8 characters.","This password is too common."]}"#,
        ),
        (
            json!({"username": "u1", "email": "u1@example.com", "password": "12345678901"}),
            r#"{"password":["This password is too common.","This password is entirely numeric."]}"#,
        ),
        (
            json!({"username": "u1", "email": "u1@example.com", "password": "83920174659"}),
            r#"{"password":["This password is entirely numeric."]}"#,
        ),
        (
            json!({"username": "carol1", "email": "c@example.com", "password": "carol1carol"}),
            r#"{"password":["The password is too similar to the username."]}"#,
        ),
        (
            json!({"username": "alice1", "email": "u1@example.com", "password": PASSWORD}),
            r#"{"username":["A user with that username already exists."]}"#,
        ),
        (
            json!({"username": "u1", "email": "ALICE1@EXAMPLE.COM", "password": PASSWORD}),
            r#"{"email":["This field must be unique."]}"#,
        ),
        (
            json!({"username": "alice1", "email": "alice1@example.com", "password": "password"}),
            r#"{"username":["A user with that username already exists."],"email":["This field must be unique."],"password":["This password is too common."]}"#,
        ),
        (
            json!({"username": "u1", "email": "notanemail", "password": PASSWORD}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"username": "bad user!", "email": "u1@example.com", "password": PASSWORD}),
            r#"{"username":["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}"#,
        ),
        (
            json!({"username": "x".repeat(151), "email": "u1@example.com", "password": PASSWORD}),
            r#"{"username":["Ensure this field has no more than 150 characters."]}"#,
        ),
        (
            json!({}),
            r#"{"username":["This field is required."],"email":["This field is required."],"password":["This field is required."]}"#,
        ),
        (
            json!({"username": "", "email": "", "password": ""}),
            r#"{"username":["This field may not be blank."],"email":["This field may not be blank."],"password":["This field may not be blank."]}"#,
        ),
        (
            json!({"username": null, "email": ["a"], "password": PASSWORD}),
            r#"{"username":["This field may not be null."],"email":["Not a valid string."]}"#,
        ),
    ];
    for (body, expected) in cases {
        let r = app
            .call(Method::POST, "/api/register/", None, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.text, expected, "{body}");
    }
    // Usernames stay case-sensitive, as in the original.
    let r = app.register("ALICE1", "other@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn usernames_are_nfkc_normalised_so_lookalikes_are_one_account() {
    // Arrange
    let app = spawn_app().await;
    let alice = app.register("alice", "alice@example.com", PASSWORD).await;
    assert_eq!(alice.status, StatusCode::CREATED);

    // Act
    let twin = app
        .register("ａｌｉｃｅ", "twin@example.com", PASSWORD)
        .await;
    let login = app.login("ａｌｉｃｅ", PASSWORD).await;
    let fresh = app.register("ｂｏｂ１", "bob1@example.com", PASSWORD).await;

    // Assert
    assert_eq!(twin.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        twin.text,
        r#"{"username":["A user with that username already exists."]}"#
    );
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let me = app
        .get("/api/users/me/", login.json()["access"].as_str().unwrap())
        .await;
    assert_eq!(me.json()["username"], "alice");
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_eq!(fresh.json()["username"], "bob1");
    assert_eq!(app.login("bob1", PASSWORD).await.status, StatusCode::OK);
}
