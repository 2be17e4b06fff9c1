//! Account self-service: the original's `PUT`/`PATCH`/`DELETE /api/users/{id}/`, for the
//! owner only, with registration's rules and a password for what cannot be undone.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const NOT_YOURS: &str = r#"{"detail":"No User matches the given query."}"#;

async fn me(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/users/me/", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn an_owner_changes_email_and_username_under_registration_s_rules() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    app.user("bob1").await;
    let id = me(&app, &alice).await["id"].clone();

    let r = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(&alice),
            Some(json!({"email": "alice.new@example.org"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"id": id, "username": "alice1", "email": "alice.new@example.org"})
    );
    let r = app
        .call(
            Method::PUT,
            &format!("/api/users/{id}/"),
            Some(&alice),
            Some(json!({"username": "alice2", "email": "alice2@example.org"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(me(&app, &alice).await["username"], "alice2");

    for (body, want) in [
        (
            json!({"email": "not-an-email"}),
            json!({"email": ["Enter a valid email address."]}),
        ),
        (
            json!({"email": "BOB1@example.com"}),
            json!({"email": ["This field must be unique."]}),
        ),
        (
            json!({"username": "ｂｏｂ1"}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "bad name!"}),
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}),
        ),
    ] {
        let r = app
            .call(
                Method::PATCH,
                "/api/users/me/",
                Some(&alice),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.json(), want, "{body}");
    }
    // PUT is the original's whole shape: both fields.
    let r = app
        .call(
            Method::PUT,
            "/api/users/me/",
            Some(&alice),
            Some(json!({"username": "alice3"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json(), json!({"email": ["This field is required."]}));
    // Keeping one's own email is not a conflict with oneself.
    let r = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(&alice),
            Some(json!({"email": "ALICE2@example.org"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn another_users_account_is_a_404_for_every_verb_and_stays_untouched() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let bob_id = me(&app, &bob).await["id"].clone();
    let path = format!("/api/users/{bob_id}/");

    for (method, body) in [
        (Method::GET, None),
        (
            Method::PUT,
            Some(json!({"username": "stolen1", "email": "stolen@example.com"})),
        ),
        (Method::PATCH, Some(json!({"email": "stolen@example.com"}))),
        (Method::DELETE, Some(json!({"password": PASSWORD}))),
    ] {
        let r = app.call(method.clone(), &path, Some(&alice), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(r.text, NOT_YOURS, "{method}");
    }
    assert_eq!(
        me(&app, &bob).await,
        json!({"id": bob_id, "username": "bob1", "email": "bob1@example.com"})
    );
    assert_eq!(app.login("bob1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_every_older_credential() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("carol1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;
    let (other, _) = app.user("dave1").await;
    let new = "Blue-Mariposa-42";
    let patch = |body: Value| app.call(Method::PATCH, "/api/users/me/", Some(&access), Some(body));

    let r = patch(json!({"password": new})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"current_password": ["This field is required."]})
    );
    let r = patch(json!({"password": new, "current_password": "wrong-password-1"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"current_password": ["Your old password was entered incorrectly. Please enter it again."]})
    );
    let r = patch(json!({"password": "carol1xx", "current_password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"password": ["The password is too similar to the username."]})
    );
    // Nothing changed so far.
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::OK
    );

    let r = patch(json!({"password": new, "current_password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("log in again")
    );

    // At once, in this process: the token that made the request included.
    for token in [&access, &script] {
        let r = app.get("/api/tasks/", token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("carol1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("carol1", new).await;
    assert_eq!(fresh.status, StatusCode::OK);
    let fresh = fresh.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/tasks/", &fresh).await.status, StatusCode::OK);
    // Another account is untouched.
    assert_eq!(app.get("/api/tasks/", &other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_login() {
    let app = spawn_app_with(|a| a.login_failures = 2).await;
    let (access, _) = app.user("erin1").await;
    let guess = |n: usize| {
        app.call(
            Method::PATCH,
            "/api/users/me/",
            Some(&access),
            Some(
                json!({"password": "Blue-Mariposa-42", "current_password": format!("guess-{n}-x")}),
            ),
        )
    };
    // A blank current password is refused without being checked: no attempt counted.
    for _ in 0..3 {
        let r = app
            .call(
                Method::PATCH,
                "/api/users/me/",
                Some(&access),
                Some(json!({"password": "Blue-Mariposa-42", "current_password": ""})),
            )
            .await;
        assert_eq!(
            r.json(),
            json!({"current_password": ["This field may not be blank."]})
        );
    }
    assert_eq!(guess(1).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(guess(2).await.status, StatusCode::BAD_REQUEST);
    let r = guess(3).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // The login throttle is the same one.
    assert_eq!(
        app.login("erin1", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_everything_it_owned() {
    let app = spawn_app().await;
    let (access, _) = app.user("frank1").await;
    let (bob, _) = app.user("bob1").await;
    let id = me(&app, &access).await["id"].as_i64().unwrap();
    app.new_task(&access, "Goes with the account").await;
    app.new_task(&bob, "Stays with bob").await;
    let r = app
        .with_header(
            Method::POST,
            "/api/tasks/",
            &access,
            "idempotency-key",
            "k1",
            Some(json!({"title": "Keyed task"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    api_token(&app, &access, &["tasks:read"]).await;
    let mut ws = app.ws(&access, None).await;
    let delete =
        |body: Value| app.call(Method::DELETE, "/api/users/me/", Some(&access), Some(body));

    let r = delete(json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json(), json!({"password": ["This field is required."]}));
    let r = delete(json!({"password": "not-the-password"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"password": ["Your password was entered incorrectly. Please enter it again."]})
    );
    assert_eq!(app.task_count(&access).await, 2);

    let r = delete(json!({"password": PASSWORD})).await;
    let at = Instant::now();
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    match ws.next_within(Duration::from_secs(3)).await {
        WsNext::Closed(Some(4003), _) => {}
        other => panic!("expected close 4003, got {other:?}"),
    }
    assert!(
        at.elapsed() < Duration::from_millis(1500),
        "{:?}",
        at.elapsed()
    );

    let c = db(&app).await;
    for table in [
        "tasks",
        "events",
        "idempotency_keys",
        "refresh_tokens",
        "api_tokens",
    ] {
        let n = c
            .int(
                &format!("SELECT count(*) FROM {table} WHERE user_id = ?1"),
                &[&id],
            )
            .await;
        assert_eq!(n, 0, "{table} still holds the account's rows");
    }
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("frank1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The name and email are free again; bob is untouched.
    assert_eq!(
        app.register("frank1", "frank1@example.com", PASSWORD)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(app.task_count(&bob).await, 1);
}

#[tokio::test]
async fn an_api_token_cannot_change_or_delete_the_account() {
    let app = spawn_app().await;
    let (access, _) = app.user("gina1").await;
    let token = api_token(&app, &access, &["account:read", "tasks:write"]).await;
    for (method, body) in [
        (Method::PATCH, json!({"email": "x@example.com"})),
        (Method::DELETE, json!({"password": PASSWORD})),
    ] {
        let r = app
            .call(method.clone(), "/api/users/me/", Some(&token), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}: {}", r.text);
    }
    assert_eq!(me(&app, &access).await["email"], "gina1@example.com");
}

#[tokio::test]
async fn the_command_line_deletes_an_account_only_when_confirmed() {
    let app = spawn_app().await;
    let (access, _) = app.user("hank1").await;

    let refused = user(&app, &["delete", "--username", "hank1"], None).await;
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    assert_eq!(app.get("/api/tasks/", &access).await.status, StatusCode::OK);

    let deleted = user(&app, &["delete", "--username", "hank1", "--yes"], None).await;
    deleted.ok();
    assert!(deleted.stdout.contains("deleted user hank1"), "{deleted:?}");
    assert_eq!(
        app.login("hank1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let missing = user(&app, &["delete", "--username", "hank1", "--yes"], None).await;
    assert_eq!(missing.code, Some(1));
    let help = tasklane(&["user", "delete", "--help"], None).await;
    assert!(help.stdout.contains("--yes"));
}

#[tokio::test]
async fn the_user_directory_shows_only_the_caller() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    app.user("bob1").await;
    let r = app.get("/api/users/", &alice).await;
    assert_eq!(
        r.text,
        r#"[{"id":1,"username":"alice1","email":"alice1@example.com"}]"#
    );
    assert_eq!(
        app.get("/api/users/1/", &alice).await.status,
        StatusCode::OK
    );
    let r = app.get("/api/users/2/", &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, r#"{"detail":"No User matches the given query."}"#);
    // Anonymous listing, and changing or deleting accounts, are gone: only the owner,
    // logged in, may (the tests above).
    let r = app.call(Method::GET, "/api/users/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for m in [Method::PATCH, Method::PUT, Method::DELETE] {
        let r = app
            .call(
                m.clone(),
                "/api/users/2/",
                None,
                Some(json!({"email": "pwned@example.com"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m}");
    }
}
