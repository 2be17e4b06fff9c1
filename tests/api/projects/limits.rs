//! The limits on projects (members, owned projects, pending invitations: 409) and the
//! per-user invitation throttle (429).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{invite, new_project};
use crate::helpers::*;

#[tokio::test]
async fn limits_refuse_with_a_clear_message() {
    let app = spawn_app_with(|a| {
        a.max_project_members = 2;
        a.max_owned_projects = 1;
        a.max_pending_invitations = 1;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (_carol, _) = app.user("carol").await;
    let (_dave, _) = app.user("dave").await;
    let id = new_project(&app, &alice, "Small").await["id"].clone();

    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(&alice),
            Some(json!({"name": "Two"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("at most 1 projects")
    );

    assert_eq!(
        invite(&app, &alice, &id, "bob", "viewer").await.status,
        StatusCode::CREATED
    );
    let r = invite(&app, &alice, &id, "carol", "viewer").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("pending invitations")
    );

    // bob fills the project (2 members): no more invitations.
    let inv = app.get("/api/invitations/", &bob).await.json()[0]["id"].clone();
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = invite(&app, &alice, &id, "carol", "viewer").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("members"));

    // Names: 1 to 100 characters.
    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(&bob),
            Some(json!({"name": "x".repeat(101)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .call(Method::POST, "/api/projects/", Some(&bob), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["name"][0], "This field is required.");
}

#[tokio::test]
async fn invitations_are_throttled_per_user() {
    let app = spawn_app_with(|a| a.invitations_per_user = 2).await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    for name in ["u1", "u2", "u3"] {
        app.user(name).await;
    }
    let id = new_project(&app, &alice, "Busy").await["id"].clone();
    assert_eq!(
        invite(&app, &alice, &id, "u1", "viewer").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        invite(&app, &alice, &id, "u2", "viewer").await.status,
        StatusCode::CREATED
    );
    let r = invite(&app, &alice, &id, "u3", "viewer").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // Per user: bob's own project is not held back by alice's count.
    let other = new_project(&app, &bob, "Other").await["id"].clone();
    assert_eq!(
        invite(&app, &bob, &other, "u3", "viewer").await.status,
        StatusCode::CREATED
    );
}
