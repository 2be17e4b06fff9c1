//! What each role may do (403 naming the role needed, below it), and the API token
//! scopes `projects:read` and `projects:write` on the project routes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_member, invite, my_id, new_project};
use crate::helpers::*;

#[tokio::test]
async fn each_role_does_what_it_includes_and_no_more() {
    let app = spawn_app().await;
    let (owner, _) = app.user("owner").await;
    let (admin, _) = app.user("admin").await;
    let (editor, _) = app.user("editor").await;
    let (viewer, _) = app.user("viewer").await;
    let (_dave, _) = app.user("dave").await;
    let id = new_project(&app, &owner, "Roles").await["id"].clone();
    add_member(&app, &owner, &id, "admin", &admin, "admin").await;
    add_member(&app, &owner, &id, "editor", &editor, "editor").await;
    add_member(&app, &owner, &id, "viewer", &viewer, "viewer").await;
    let (admin_id, editor_id, viewer_id) = (
        my_id(&app, &admin).await,
        my_id(&app, &editor).await,
        my_id(&app, &viewer).await,
    );
    let owner_id = my_id(&app, &owner).await;
    let path = format!("/api/projects/{id}/");

    // Renaming needs admin.
    for token in [&viewer, &editor] {
        let r = app
            .call(
                Method::PATCH,
                &path,
                Some(token),
                Some(json!({"name": "No"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.json()["detail"], "This needs the admin role or higher.");
    }
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    // With a stale If-Match: 412.
    let r = app
        .with_header(
            Method::PATCH,
            &path,
            &admin,
            "If-Match",
            "\"v1\"",
            Some(json!({"name": "Again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Inviting needs admin; inviting an admin needs the owner.
    let r = invite(&app, &editor, &id, "dave", "viewer").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = invite(&app, &admin, &id, "dave", "admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["detail"], "This needs the owner role or higher.");
    let r = invite(&app, &owner, &id, "dave", "owner").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = invite(&app, &admin, &id, "dave", "editor").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .get(&format!("/api/projects/{id}/invitations/"), &editor)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Re-roling: admin below admin, the owner for admins; never to owner.
    let member = |u: i64| format!("/api/projects/{id}/members/{u}/");
    let r = app
        .call(
            Method::PATCH,
            &member(viewer_id),
            Some(&editor),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PATCH,
            &member(viewer_id),
            Some(&admin),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["role"], "editor");
    assert!(r.json().get("email").is_none());
    let r = app
        .call(
            Method::PATCH,
            &member(viewer_id),
            Some(&admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &member(admin_id),
            Some(&admin),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &member(owner_id),
            Some(&owner),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &member(editor_id),
            Some(&owner),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &member(999_999),
            Some(&owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // Removing: admin removes below admin; only the owner removes an admin.
    let r = app
        .call(Method::DELETE, &member(admin_id), Some(&editor), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(Method::DELETE, &member(editor_id), Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(Method::DELETE, &member(owner_id), Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .call(Method::DELETE, &member(admin_id), Some(&owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // A removed member sees nothing any more.
    assert_eq!(app.get(&path, &admin).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_tokens_need_the_projects_scopes() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let id = new_project(&app, &alice, "Scoped").await["id"].clone();
    let tasks_only = api_token(&app, &alice, &["tasks:read", "tasks:write"]).await;
    let read = api_token(&app, &alice, &["projects:read"]).await;
    let write = api_token(&app, &alice, &["projects:write"]).await;

    let r = app.get("/api/projects/", &tasks_only).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .get(&format!("/api/projects/{id}/members/"), &tasks_only)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/invitations/", &tasks_only).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(
        app.get("/api/projects/", &read).await.status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(&read),
            Some(json!({"name": "No"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Write implies read.
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &write)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(&write),
            Some(json!({"name": "Yes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let listed = app.get("/api/tokens/", &alice).await.json();
    let scopes: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scopes"].clone())
        .collect();
    assert!(
        scopes.contains(&json!(["projects:read", "projects:write"])),
        "{scopes:?}"
    );
    // The task routes keep tasks:*.
    assert_eq!(
        app.get("/api/tasks/", &write).await.status,
        StatusCode::FORBIDDEN
    );
}
