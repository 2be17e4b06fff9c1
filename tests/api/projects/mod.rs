//! Shared projects: the whole flow over HTTP (create, invite, accept, decline, withdraw,
//! expiry, roles, leave, transfer, delete), their limits and throttle, API token scopes,
//! the membership events on a member's stream and `/api/changes/`, the operator's
//! `tasklane project` commands, the schema migration from the previous version, and
//! tasks inside projects.

mod account_deletion;
mod concurrent_creates;
mod events;
mod fanout;
mod flow;
mod limits;
mod matrix;
mod operations;
mod processes;
mod roles;
mod tasks;
mod visibility;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Creates a project as `token`: its JSON.
pub async fn new_project(app: &TestApp, token: &str, name: &str) -> Value {
    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(token),
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

/// Invites `username` with `role` into project `id`: the response.
pub async fn invite(app: &TestApp, token: &str, id: &Value, username: &str, role: &str) -> Resp {
    app.call(
        Method::POST,
        &format!("/api/projects/{id}/invitations/"),
        Some(token),
        Some(json!({ "username": username, "role": role })),
    )
    .await
}

/// Invites `username` with `role` and has them accept (with `their_token`).
pub async fn add_member(
    app: &TestApp,
    owner: &str,
    id: &Value,
    username: &str,
    their_token: &str,
    role: &str,
) {
    let r = invite(app, owner, id, username, role).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.json()["id"].clone();
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(their_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// The caller's own user id.
pub async fn my_id(app: &TestApp, token: &str) -> i64 {
    let r = app.get("/api/users/me/", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["id"].as_i64().expect("id")
}
