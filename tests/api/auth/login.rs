//! Logging in (`POST /api/token/`): argon2id hashes, one 401 for a wrong password and an
//! unknown user, the token endpoint's field errors, and how protected routes answer every
//! kind of bad credential, as simplejwt does.

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
