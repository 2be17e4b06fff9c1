//! Sensitive actions need proof of the password: an access token alone — leaked from a
//! log, a URL, a shared screen — could mint a non-expiring API token or take the account
//! over by changing its email, before these checks.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const NEEDS_PASSWORD: &str = r#"{"detail":"This action needs your password: send current_password, or log in again (your last password login was more than 10 minutes ago).","code":"reauthentication_required"}"#;

/// An access token of `user_id`'s current session whose password login was `age` seconds
/// ago, signed with the test server's key (what a refreshed session an hour old carries).
fn session_logged_in_ago(user_id: i64, age: i64) -> String {
    let t = now();
    sign(&json!({
        "token_type": "access", "exp": t + 300, "iat": t, "jti": tasklane::clock::new_id(),
        "user_id": user_id, "gen": 0, "auth_time": t - age,
    }))
}

async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/users/me/", token).await.json()["id"]
        .as_i64()
        .unwrap()
}

async fn mint(app: &TestApp, token: &str, extra: Value) -> Resp {
    let mut body = json!({"name": "backup", "scopes": ["tasks:read"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.call(Method::POST, "/api/tokens/", Some(token), Some(body))
        .await
}

async fn patch_me(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call(Method::PATCH, "/api/users/me/", Some(token), Some(body))
        .await
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_stale_session_needs_the_password_to_mint_a_token_or_rename() {
    let app = spawn_app().await;
    let (fresh, _) = app.user("stale1").await;
    let id = user_id(&app, &fresh).await;
    let stale = session_logged_in_ago(id, 3600);
    // The session itself is good: reading works.
    assert_eq!(
        app.get("/api/users/me/", &stale).await.status,
        StatusCode::OK
    );

    // Without the password: 403, saying what is needed; nothing is created or changed.
    let r = mint(&app, &stale, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.text, NEEDS_PASSWORD);
    for change in [
        json!({"email": "thief@example.com"}),
        json!({"username": "thief"}),
    ] {
        let r = patch_me(&app, &stale, change.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{change}: {}", r.text);
        assert_eq!(r.text, NEEDS_PASSWORD);
        let r = app
            .call(
                Method::PUT,
                &format!("/api/users/{id}/"),
                Some(&stale),
                Some(
                    json!({"username": change.get("username").unwrap_or(&json!("stale1")),
                            "email": change.get("email").unwrap_or(&json!("stale1@example.com"))}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "PUT {change}: {}", r.text);
    }
    let me = app.get("/api/users/me/", &fresh).await.json();
    assert_eq!(
        (me["username"].as_str(), me["email"].as_str()),
        (Some("stale1"), Some("stale1@example.com"))
    );
    assert_eq!(app.get("/api/tokens/", &fresh).await.json(), json!([]));

    // A wrong password: the field error the password change gives.
    let wrong = json!({"current_password": "not-my-password"});
    let wrong_answer = r#"{"current_password":["Your old password was entered incorrectly. Please enter it again."]}"#;
    let r = mint(&app, &stale, wrong.clone()).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (StatusCode::BAD_REQUEST, wrong_answer)
    );
    let r = patch_me(
        &app,
        &stale,
        json!({"email": "thief@example.com", "current_password": "not-my-password"}),
    )
    .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (StatusCode::BAD_REQUEST, wrong_answer)
    );

    // The right one: done.
    let r = mint(&app, &stale, json!({ "current_password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let script = r.json()["token"].as_str().unwrap().to_owned();
    let r = patch_me(
        &app,
        &stale,
        json!({"email": "new1@example.com", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch_me(
        &app,
        &stale,
        json!({"username": "renamed1", "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["username"], "renamed1");

    // Sending the name and email the account already has changes nothing and needs
    // nothing (the original's clients PUT both).
    let r = app
        .call(
            Method::PUT,
            "/api/users/me/",
            Some(&stale),
            Some(json!({"username": "renamed1", "email": "new1@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // An API token can do none of it, password or not.
    let r = mint(&app, &script, json!({ "current_password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["code"], "session_required");
}

#[tokio::test]
async fn a_fresh_login_acts_without_the_password_as_before() {
    let app = spawn_app().await;
    let (access, _) = app.user("fresh1").await;
    let r = mint(&app, &access, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = patch_me(&app, &access, json!({"email": "fresh.new@example.com"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch_me(&app, &access, json!({"username": "fresh2"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Just inside the window, too.
    let id = user_id(&app, &access).await;
    let r = mint(&app, &session_logged_in_ago(id, 9 * 60), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // A password change still needs the current password, however fresh the login.
    let r = patch_me(
        &app,
        &access,
        json!({"password": "Another-Long-Passphrase-9"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"current_password": ["This field is required."]})
    );
}

#[tokio::test]
async fn refreshing_keeps_the_time_of_the_password_login() {
    let app = spawn_app_with(|a| a.reauth_after = std::time::Duration::from_secs(3)).await;
    let r = app
        .register("refresher1", "refresher1@example.com", PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let login = app.login("refresher1", PASSWORD).await.json();
    let auth_time = claims(login["access"].as_str().unwrap())["auth_time"].clone();
    assert!(auth_time.is_i64(), "no auth_time in {login}");
    assert_eq!(
        claims(login["refresh"].as_str().unwrap())["auth_time"],
        auth_time
    );

    // Past the window (whole seconds: 3.2 s is at least 3 of them), a refresh gives a
    // new pair for the same login: still stale.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let r = app.refresh(login["refresh"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let pair = r.json();
    let access = pair["access"].as_str().unwrap();
    assert_eq!(claims(access)["auth_time"], auth_time);
    assert_eq!(
        claims(pair["refresh"].as_str().unwrap())["auth_time"],
        auth_time
    );
    assert!(claims(access)["iat"].as_i64() > auth_time.as_i64());
    let r = mint(&app, access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("more than 3 seconds ago"), "{}", r.text);
    let r = mint(&app, access, json!({ "current_password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // A new password login is recent again.
    let again = app.login("refresher1", PASSWORD).await.json();
    let r = mint(&app, again["access"].as_str().unwrap(), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}
