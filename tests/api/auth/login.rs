//! Registration, login, token refresh/rotation/revocation, and how protected routes
//! answer every kind of bad credential.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const BEARER: &str = r#"Bearer realm="api""#;

#[tokio::test]
async fn register_then_token_gives_access_and_refresh() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let reg = app.register("alice1", "alice1@example.com", PASSWORD).await;
    let tok = app.login("alice1", PASSWORD).await;

    // Assert
    assert_eq!(reg.status, StatusCode::CREATED);
    assert_eq!(
        reg.text,
        r#"{"id":1,"username":"alice1","email":"alice1@example.com"}"#
    );
    assert_eq!(tok.status, StatusCode::OK);
    let keys: Vec<String> = tok.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["refresh", "access"]);
    let me = app
        .get("/api/users/me/", tok.json()["access"].as_str().unwrap())
        .await;
    assert_eq!(me.json()["username"], "alice1");
}

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
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = spawn_app().await;
    app.register("alice1", "alice1@example.com", PASSWORD).await;
    let hash = db(&app)
        .await
        .text("SELECT password_hash FROM users", &[])
        .await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    app.user("alice1").await;
    let wrong = app.login("alice1", "not-the-password").await;
    let unknown = app.login("nobody", "not-the-password").await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.text,
            r#"{"detail":"No active account found with the given credentials"}"#
        );
        assert_eq!(r.header("www-authenticate"), Some(BEARER));
    }
}

#[tokio::test]
async fn token_endpoint_field_errors_and_methods() {
    let app = spawn_app().await;
    let r = app
        .call(Method::POST, "/api/token/", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text,
        r#"{"username":["This field is required."],"password":["This field is required."]}"#
    );
    let r = app.call(Method::GET, "/api/token/", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.text, r#"{"detail":"Method \"GET\" not allowed."}"#);
    // The original README's login payload carries an email too: extra fields are ignored.
    app.user("alice1").await;
    let r = app
        .call(
            Method::POST,
            "/api/token",
            None,
            Some(json!({"username": "alice1", "password": PASSWORD, "email": "x@y.z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_spent() {
    // Arrange: no grace window, so a second use is reuse at once.
    let app = spawn_app_with(|a| a.refresh_grace = Duration::ZERO).await;
    let (_, refresh) = app.user("alice1").await;

    // Act
    let first = app.refresh(&refresh).await;
    let again = app.refresh(&refresh).await;

    // Assert
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let keys: Vec<String> = first.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access", "refresh"]);
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.json()["code"], "token_not_valid");
    // Reuse revoked the whole family, including the token it was rotated into.
    let next = first.json()["refresh"].as_str().unwrap().to_owned();
    let r = app.refresh(&next).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // The new access token works meanwhile (access tokens are not revoked early).
    let access = first.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refresh_retried_within_the_grace_window_gets_the_same_pair() {
    let app = spawn_app().await; // default grace: 10 s
    let (_, refresh) = app.user("alice1").await;
    let (a, b) = tokio::join!(app.refresh(&refresh), app.refresh(&refresh));
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(a.text, b.text);
    // And the pair it got still rotates normally.
    let next = a.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(app.refresh(&next).await.status, StatusCode::OK);
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    let r = app.refresh(&access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.text,
        r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#
    );
    let r = app.get("/api/tasks/", &refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["messages"][0]["message"], "Token has wrong type");
    let r = app.refresh("garbage").await;
    assert_eq!(
        r.text,
        r#"{"detail":"Token is invalid or expired","code":"token_not_valid"}"#
    );
    let r = app
        .call(Method::POST, "/api/token/refresh/", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.text, r#"{"refresh":["This field is required."]}"#);
}

#[tokio::test]
async fn revoking_a_refresh_token_logs_out_its_family() {
    let app = spawn_app().await;
    let (_, refresh) = app.user("alice1").await;
    let rotated = app.refresh(&refresh).await.json()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::POST,
            "/api/token/revoke/",
            None,
            Some(json!({ "refresh": rotated })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.refresh(&rotated).await.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::POST,
            "/api/token/revoke/",
            None,
            Some(json!({ "refresh": "nope" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn protected_routes_answer_every_bad_credential_like_simplejwt() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    let not_provided = r#"{"detail":"Authentication credentials were not provided."}"#;
    let invalid = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}"#;
    let two_values = r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#;
    let t = now();
    let claims = |exp: i64, iat: i64, ty: &str, uid: i64| json!({"token_type": ty, "exp": exp, "iat": iat, "jti": "0123456789abcdef0123456789abcdef", "user_id": uid});
    let expired = sign(&claims(t - 10, t - 310, "access", 1));
    let future_iat = sign(&claims(t + 3600, t + 600, "access", 1));
    let not_yet = sign(
        &json!({"token_type": "access", "exp": t + 600, "iat": t, "nbf": t + 300, "jti": "x", "user_id": 1}),
    );
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(t + 300, t, "access", 1),
        &jsonwebtoken::EncodingKey::from_secret(b"another-key-another-key-another-key"),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(t + 300, t, "access", 1),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    parts[1] = b64.encode(claims(t + 300, t, "access", 2).to_string());
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims(t + 300, t, "access", 1).to_string())
    );
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, not_provided),
        (Some("JWT ".to_owned() + &access), not_provided),
        (Some("bearer ".to_owned() + &access), not_provided),
        (Some("Bearer".into()), two_values),
        (Some("Bearer a b".into()), two_values),
        (Some("Bearer abc.def.ghi".into()), invalid),
        (Some(format!("Bearer {expired}")), invalid),
        (Some(format!("Bearer {future_iat}")), invalid),
        (Some(format!("Bearer {not_yet}")), invalid),
        (Some(format!("Bearer {other_key}")), invalid),
        (Some(format!("Bearer {hs512}")), invalid),
        (Some(format!("Bearer {tampered}")), invalid),
        (Some(format!("Bearer {alg_none}")), invalid),
    ];
    for (header, expected) in cases {
        let r = app.get_with_auth("/api/tasks/", header.as_deref()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(r.text, expected, "{header:?}");
        assert_eq!(r.header("www-authenticate"), Some(BEARER), "{header:?}");
    }
    let r = app.get("/api/tasks/", &refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A well-formed token for a user that does not exist.
    let ghost = sign(&claims(t + 300, t, "access", 999));
    let r = app.get("/api/tasks/", &ghost).await;
    assert_eq!(
        r.text,
        r#"{"detail":"User not found","code":"user_not_found"}"#
    );
}

#[tokio::test]
async fn a_deleted_users_tokens_stop_working() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    db(&app)
        .await
        .execute("DELETE FROM users WHERE username = 'alice1'", &[])
        .await;
    let r = app.get("/api/users/me/", &access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "user_not_found");
    // The original issued new access tokens to deleted users; we don't.
    let r = app.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
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
    // logged in, may (see account.rs).
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

#[tokio::test]
async fn restarting_on_the_same_file_keeps_users_tasks_and_tokens() {
    // Arrange: a server with a generated (not configured) signing secret.
    let app = spawn_app_with(|a| a.jwt_secret = None).await;
    let (access, refresh) = app.user("alice1").await;
    let task = app.new_task(&access, "Survives restarts").await;

    // Act
    let app = app.restart().await;

    // Assert
    let r = app
        .get(&format!("/api/tasks/{}/", task["id"]), &access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), task);
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    assert_eq!(app.login("alice1", PASSWORD).await.status, StatusCode::OK);
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
