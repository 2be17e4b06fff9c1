//! A login never outlives the change it raced, and the original app's tokens count only
//! from before the import: attacks on the real server that once worked.
//!
//! The race is made wide rather than lucky: while a password change is under way (it
//! checks the current password, hashes the new one, then commits), logins with the old
//! password start one after another, a third of a password check apart, so in every trial
//! some of them read the account before the change commits and finish after it. Such a
//! login once issued tokens from its stale read, and they kept working.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const NEW_PASSWORD: &str = "Quartz-Heron-5150";

/// A server whose throttles and hashing queue let a burst of logins at one account
/// through (the race needs them to reach the password check together).
async fn racing_app() -> Arc<TestApp> {
    Arc::new(
        spawn_app_with(|a| {
            a.login_failures = 1_000;
            a.hash_queue = 1_000;
        })
        .await,
    )
}

/// Logs in with `password` `count` times, the attempts started `spacing` apart: every
/// answer, in order.
async fn staggered_logins(
    app: &Arc<TestApp>,
    name: &str,
    password: &str,
    count: u32,
    spacing: Duration,
) -> Vec<tokio::task::JoinHandle<Resp>> {
    (0..count)
        .map(|k| {
            let (app, name, password) = (app.clone(), name.to_owned(), password.to_owned());
            tokio::spawn(async move {
                tokio::time::sleep(spacing * k).await;
                app.login(&name, &password).await
            })
        })
        .collect()
}

/// Every way a login's tokens could still be used: the access token on a protected route
/// and to mint an API token, the refresh token at the refresh endpoint. Each must be
/// refused.
async fn assert_ended(app: &TestApp, tokens: &Value, trial: u32) {
    let access = tokens["access"].as_str().unwrap();
    let refresh = tokens["refresh"].as_str().unwrap();
    let r = app.get("/api/tasks/", access).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "trial {trial}: a racing login's access token outlived the change: {}",
        r.text
    );
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(access),
            Some(json!({"name": "keep me", "scopes": ["tasks:read"]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "trial {trial}: a racing login minted an API token: {}",
        r.text
    );
    let r = app.refresh(refresh).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "trial {trial}: a racing login's refresh token outlived the change: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_racing_a_password_change_never_outlives_it() {
    let app = racing_app().await;
    let (mut before, mut after) = (0, 0);
    for trial in 0..20 {
        let name = format!("racer{trial}");
        let (session, _) = app.user(&name).await;
        // How long one password check takes here, now: the logins are spaced by it.
        let started = Instant::now();
        let r = app.login(&name, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let check = started.elapsed();

        let change = {
            let app = app.clone();
            tokio::spawn(async move {
                app.call(
                    Method::PATCH,
                    "/api/users/me/",
                    Some(&session),
                    Some(json!({"password": NEW_PASSWORD, "current_password": PASSWORD})),
                )
                .await
            })
        };
        let logins = staggered_logins(&app, &name, PASSWORD, 9, check / 3).await;
        let changed = change.await.unwrap();
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        for login in logins {
            let r = login.await.unwrap();
            match r.status {
                // Before the change committed (its tokens must have ended with it), or
                // after, and refused.
                StatusCode::OK => {
                    before += 1;
                    assert_ended(&app, &r.json(), trial).await;
                }
                StatusCode::UNAUTHORIZED => after += 1,
                other => panic!("trial {trial}: a racing login answered {other}: {}", r.text),
            }
        }
        // The new password works at once.
        let r = app.login(&name, NEW_PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let fresh = r.json();
        let r = app
            .get("/api/tasks/", fresh["access"].as_str().unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    eprintln!("racing logins: {before} got tokens (all ended), {after} were refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_racing_account_deletion_is_a_401_never_a_500() {
    let app = racing_app().await;
    for trial in 0..15 {
        let name = format!("leaver{trial}");
        let (session, _) = app.user(&name).await;
        let started = Instant::now();
        assert_eq!(app.login(&name, PASSWORD).await.status, StatusCode::OK);
        let check = started.elapsed();

        let delete = {
            let app = app.clone();
            tokio::spawn(async move {
                app.call(
                    Method::DELETE,
                    "/api/users/me/",
                    Some(&session),
                    Some(json!({ "password": PASSWORD })),
                )
                .await
            })
        };
        let logins = staggered_logins(&app, &name, PASSWORD, 6, check / 3).await;
        let deleted = delete.await.unwrap();
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        for login in logins {
            let r = login.await.unwrap();
            match r.status {
                StatusCode::OK => {
                    let r = app
                        .get("/api/tasks/", r.json()["access"].as_str().unwrap())
                        .await;
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
                }
                StatusCode::UNAUTHORIZED => {
                    assert_eq!(
                        r.json()["detail"],
                        "No active account found with the given credentials"
                    );
                }
                other => panic!(
                    "trial {trial}: a login racing deletion answered {other}: {}",
                    r.text
                ),
            }
        }
    }
}

/// An access or refresh token as the original Django app (simplejwt) signs it: no `gen`,
/// no `auth_time`, issued at `iat`. The test server shares its key (`TEST_SECRET`), as a
/// moved deployment shares the original's `SECRET_KEY`.
fn original_token(token_type: &str, user_id: i64, iat: i64) -> String {
    sign(&json!({
        "token_type": token_type,
        "exp": now() + 3600,
        "iat": iat,
        "jti": tasklane::clock::new_id(),
        "user_id": user_id,
    }))
}

#[tokio::test]
async fn the_original_app_s_tokens_count_only_when_minted_before_the_import() {
    let app = spawn_app().await;
    let (_, _) = app.user("moved1").await;
    let id = db(&app)
        .await
        .int("SELECT id FROM users WHERE username = 'moved1'", &[])
        .await;
    let imported_at = now() - 100;
    db(&app)
        .await
        .execute(
            "INSERT INTO settings (key, value) VALUES ('django_imported_at', ?1)",
            &[&imported_at.to_string()],
        )
        .await;

    // Issued before the import: honoured, as after `tasklane import-django`.
    let access = original_token("access", id, imported_at - 60);
    let r = app.get("/api/tasks/", &access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refresh = original_token("refresh", id, imported_at - 60);
    let r = app.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let adopted = r.json();
    // Such a session never proved a password here: minting a token needs it.
    let r = app
        .call(
            Method::POST,
            "/api/tokens/",
            Some(&access),
            Some(json!({"name": "script", "scopes": ["tasks:read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["code"], "reauthentication_required");

    // Minted by the original app after the import, with the shared key: refused.
    for iat in [imported_at + 1, now()] {
        let late = original_token("access", id, iat);
        let r = app.get("/api/tasks/", &late).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "iat {iat}: {}", r.text);
        assert_eq!(r.json()["code"], "token_not_valid");
        let late = original_token("refresh", id, iat);
        let r = app.refresh(&late).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "iat {iat}: {}", r.text);
    }

    // Once the password changes, the original's tokens from before the import end too,
    // and so does the session adopted from one.
    let r = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(adopted["access"].as_str().unwrap()),
            Some(json!({"password": NEW_PASSWORD, "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/tasks/", &access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let other = original_token("refresh", id, imported_at - 30);
    let r = app.refresh(&other).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = app.refresh(adopted["refresh"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn without_an_import_a_token_without_a_generation_is_nobody_s() {
    let app = spawn_app().await;
    let (_, _) = app.user("plain1").await;
    let id = db(&app)
        .await
        .int("SELECT id FROM users WHERE username = 'plain1'", &[])
        .await;
    let r = app
        .get("/api/tasks/", &original_token("access", id, now() - 10))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = app
        .refresh(&original_token("refresh", id, now() - 10))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}
