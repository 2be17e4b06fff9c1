//! A project's life over HTTP: created, shared by invitation (accepted, declined,
//! withdrawn, expired), left, transferred and deleted; invisible to non-members.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{add_member, invite, my_id, new_project};
use crate::helpers::*;

#[tokio::test]
async fn a_project_is_created_shared_and_listed_by_each_member() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let p = new_project(&app, &alice, "  Launch  ").await;
    assert_eq!(p["name"], "Launch");
    assert_eq!(p["owner"]["username"], "alice");
    assert!(p["owner"].get("email").is_none());
    assert_eq!(p["role"], "owner");
    assert_eq!(p["member_count"], 1);
    assert_eq!(p["version"], 1);
    let id = p["id"].clone();

    // Nobody is a member without accepting.
    let r = invite(&app, &alice, &id, "bob", "editor").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.json();
    assert_eq!(inv["invitee"]["username"], "bob");
    assert_eq!(inv["project"]["name"], "Launch");
    assert!(inv["expires_at"].as_str().unwrap() > inv["created_at"].as_str().unwrap());
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &bob).await.status,
        StatusCode::NOT_FOUND
    );
    let mine = app.get("/api/invitations/", &bob).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // Another user cannot accept bob's invitation.
    let (carol, _) = app.user("carol").await;
    let accept = format!("/api/invitations/{}/accept/", inv["id"]);
    let r = app.call(Method::POST, &accept, Some(&carol), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json()["detail"], "No Invitation matches the given query.");

    let r = app.call(Method::POST, &accept, Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["role"], "editor");
    assert_eq!(r.json()["member_count"], 2);
    assert!(
        app.get("/api/invitations/", &bob)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Trailing slash optional.
    let r = app.get(&format!("/api/projects/{id}"), &bob).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["role"], "editor");
    let list = app.get("/api/projects/", &bob).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let members = app
        .get(&format!("/api/projects/{id}/members/"), &bob)
        .await
        .json();
    let members = members.as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[1]["username"], "bob");
    assert!(members.iter().all(|m| m.get("email").is_none()));
    assert!(
        !app.get(&format!("/api/projects/{id}/members/"), &bob)
            .await
            .text
            .contains("@example.com")
    );

    // A non-member sees nothing: the same 404 as for a project that does not exist.
    for path in [
        format!("/api/projects/{id}/"),
        format!("/api/projects/{id}/members/"),
        format!("/api/projects/{id}/invitations/"),
        "/api/projects/999999/".to_owned(),
        "/api/projects/abc/".to_owned(),
    ] {
        let r = app.get(&path, &carol).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(
            r.json(),
            json!({"detail": "No Project matches the given query."})
        );
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{id}/"),
            Some(&carol),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        app.get("/api/projects/", &carol)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn invitations_are_declined_withdrawn_and_expire() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let p = new_project(&app, &alice, "Shared").await;
    let id = p["id"].clone();

    // By email (any case), declined.
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/invitations/"),
            Some(&alice),
            Some(json!({"email": "BOB@example.com", "role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.json()["id"].clone();
    let again = invite(&app, &alice, &id, "bob", "viewer").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/invitations/{inv}/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Withdrawn by the project.
    let inv = invite(&app, &alice, &id, "bob", "viewer").await.json()["id"].clone();
    let pending = app
        .get(&format!("/api/projects/{id}/invitations/"), &alice)
        .await
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/invitations/{inv}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Expired: not listed, not accepted, and a new one may be sent.
    let inv = invite(&app, &alice, &id, "bob", "viewer").await.json()["id"].clone();
    db(&app)
        .await
        .execute(
            "UPDATE project_invitations SET expires_at = '2000-01-01T00:00:00.000000Z'",
            &[],
        )
        .await;
    assert!(
        app.get("/api/invitations/", &bob)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &bob).await.status,
        StatusCode::NOT_FOUND
    );
    let r = invite(&app, &alice, &id, "bob", "viewer").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Unknown invitees and bad bodies are 400s.
    let r = invite(&app, &alice, &id, "nobody", "viewer").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["username"][0]
            .as_str()
            .unwrap()
            .contains("No account")
    );
    let r = invite(&app, &alice, &id, "bob", "boss").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["role"][0], "\"boss\" is not a valid choice.");
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/invitations/"),
            Some(&alice),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["non_field_errors"].is_array(), "{}", r.text);
    let r = invite(&app, &alice, &id, "alice", "viewer").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a member: {}", r.text);
}

#[tokio::test]
async fn members_leave_and_the_owner_transfers_then_deletes() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let p = new_project(&app, &alice, "Handover").await;
    let id = p["id"].clone();
    add_member(&app, &alice, &id, "bob", &bob, "admin").await;
    add_member(&app, &alice, &id, "carol", &carol, "viewer").await;
    let (alice_id, bob_id, carol_id) = (
        my_id(&app, &alice).await,
        my_id(&app, &bob).await,
        my_id(&app, &carol).await,
    );

    // The owner cannot leave before transferring.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{alice_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("transfer"));

    // A viewer leaves.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{carol_id}/"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &carol)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Transfer to a non-admin is refused; to the admin it swaps their roles.
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/transfer/"),
            Some(&alice),
            Some(json!({"user_id": carol_id})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "no longer a member: {}",
        r.text
    );
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/transfer/"),
            Some(&bob),
            Some(json!({"user_id": bob_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{id}/transfer/"),
            Some(&alice),
            Some(json!({"user_id": bob_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["owner"]["username"], "bob");
    assert_eq!(r.json()["role"], "admin");
    assert_eq!(r.json()["version"], 2);
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &bob).await.json()["role"],
        "owner"
    );

    // Now alice (admin) may leave; the new owner deletes the project.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["detail"], "This needs the owner role or higher.");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/members/{alice_id}/"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{id}/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/projects/{id}/"), &bob).await.status,
        StatusCode::NOT_FOUND
    );
    // Ids are never reused.
    let next = new_project(&app, &bob, "Next").await;
    assert!(next["id"].as_i64().unwrap() > id.as_i64().unwrap());
}
