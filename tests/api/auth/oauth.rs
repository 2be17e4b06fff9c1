//! `POST /api/oauth/token/`: OAuth 2.0's password and refresh grants (RFC 6749 §4.3, §6)
//! over the same login as `/api/token/`, and the `oauth2` scheme in the document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN: &str = "/api/oauth/token/";
const FORM: &str = "application/x-www-form-urlencoded";

/// A form-encoded token request.
async fn token(app: &TestApp, form: &str) -> Resp {
    app.raw(Method::POST, TOKEN, None, FORM, form.to_owned())
        .await
}

fn password_grant(username: &str, password: &str) -> String {
    serde_urlencoded::to_string([
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ])
    .expect("form")
}

/// Every answer of the endpoint is JSON that no cache keeps (RFC 6749 §5.1).
fn assert_uncached(r: &Resp) {
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
    assert_eq!(r.header("pragma"), Some("no-cache"), "{r:?}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{r:?}"
    );
}

/// An RFC 6749 §5.2 error: exactly `{error, error_description}`.
fn assert_oauth_error(r: &Resp, status: StatusCode, error: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    assert_uncached(r);
    let body = r.json();
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["error", "error_description"], "{}", r.text);
    assert_eq!(body["error"], error, "{}", r.text);
    body["error_description"]
        .as_str()
        .expect("a description")
        .to_owned()
}

#[tokio::test]
async fn the_password_grant_answers_with_oauth2_tokens_that_the_api_takes() {
    let app = spawn_app().await;
    app.user("alice1").await;

    // As Swagger UI sends it: an empty scope and an empty HTTP Basic client pair.
    let r = read(
        app.client
            .post(app.url(TOKEN))
            .header("authorization", "Basic Og==")
            .header("content-type", FORM)
            .body(format!("{}&scope=", password_grant("alice1", PASSWORD)))
            .send()
            .await
            .expect("request"),
    )
    .await;

    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_uncached(&r);
    let body = r.json();
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["access_token", "token_type", "expires_in", "refresh_token"]
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], json!(app.args.access_ttl.as_secs()));
    let access = body["access_token"].as_str().expect("access token");
    let me = app.get("/api/users/me/", access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json()["username"], "alice1");

    // The refresh grant rotates like /api/token/refresh/, and each takes the other's tokens.
    let refresh = body["refresh_token"].as_str().expect("refresh token");
    let form =
        serde_urlencoded::to_string([("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .unwrap();
    let r = token(&app, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_uncached(&r);
    let next = r.json();
    assert_eq!(next["token_type"], "bearer");
    assert_ne!(next["refresh_token"], body["refresh_token"]);
    let r = app
        .refresh(next["refresh_token"].as_str().expect("refresh"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let from_simplejwt = r.json()["refresh"].as_str().expect("refresh").to_owned();
    let form = serde_urlencoded::to_string([
        ("grant_type", "refresh_token"),
        ("refresh_token", from_simplejwt.as_str()),
    ])
    .unwrap();
    assert_eq!(token(&app, &form).await.status, StatusCode::OK);

    // Client credentials in the body are ignored too (clients are public).
    let form = format!(
        "{}&client_id=swagger&client_secret=",
        password_grant("alice1", PASSWORD)
    );
    assert_eq!(token(&app, &form).await.status, StatusCode::OK);
}

#[tokio::test]
async fn each_refusal_is_an_oauth2_error_body() {
    let app = spawn_app().await;
    app.user("bob1").await;
    let bad_credentials = "No active account found with the given credentials";

    let cases: &[(&str, &str, &str)] = &[
        (
            "a wrong password",
            &password_grant("bob1", "not-the-password"),
            "invalid_grant",
        ),
        (
            "an unknown user",
            &password_grant("nobody1", PASSWORD),
            "invalid_grant",
        ),
        (
            "no grant_type",
            "username=bob1&password=x",
            "invalid_request",
        ),
        (
            "another grant type",
            "grant_type=client_credentials&client_id=x",
            "unsupported_grant_type",
        ),
        (
            "no password",
            "grant_type=password&username=bob1",
            "invalid_request",
        ),
        (
            "an empty password (as left out)",
            "grant_type=password&username=bob1&password=",
            "invalid_request",
        ),
        (
            "a blank username",
            "grant_type=password&username=+++&password=x",
            "invalid_request",
        ),
        (
            "a scope",
            &format!("{}&scope=tasks%3Aread", password_grant("bob1", PASSWORD)),
            "invalid_scope",
        ),
        (
            "a parameter twice",
            &format!("{}&username=bob1", password_grant("bob1", PASSWORD)),
            "invalid_request",
        ),
        (
            "no refresh token",
            "grant_type=refresh_token",
            "invalid_request",
        ),
        (
            "a bad refresh token",
            "grant_type=refresh_token&refresh_token=not.a.token",
            "invalid_grant",
        ),
    ];
    for (what, form, error) in cases {
        let r = token(&app, form).await;
        let description = assert_oauth_error(&r, StatusCode::BAD_REQUEST, error);
        assert!(!description.is_empty(), "{what}");
        if *error == "invalid_grant" && form.contains("password") {
            assert_eq!(description, bad_credentials, "{what}");
        }
    }
    let r = token(&app, "grant_type=password&username=bob1").await;
    assert_eq!(
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request"),
        "password: This field is required."
    );

    // Form-encoded only: JSON (the /api/token/ way), another type, or no body at all.
    let json_body = json!({"grant_type": "password", "username": "bob1", "password": PASSWORD});
    let r = app
        .call(Method::POST, TOKEN, None, Some(json_body.clone()))
        .await;
    let description = assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(description.contains("form-encoded"), "{description}");
    let r = app
        .raw(
            Method::POST,
            TOKEN,
            None,
            "text/plain",
            password_grant("bob1", PASSWORD),
        )
        .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    let r = app.call(Method::POST, TOKEN, None, None).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request");

    // POST only, with and without the trailing slash.
    let r = app.call(Method::GET, TOKEN, None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    let r = token(&app, "").await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    let r = app
        .raw(
            Method::POST,
            "/api/oauth/token",
            None,
            FORM,
            password_grant("bob1", PASSWORD),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn an_inactive_account_gets_the_same_invalid_grant_as_a_wrong_password() {
    let app = spawn_app().await;
    app.user("dave1").await;
    user(&app, &["deactivate", "--username", "dave1"], None)
        .await
        .ok();

    let inactive = token(&app, &password_grant("dave1", PASSWORD)).await;
    let wrong = token(&app, &password_grant("dave1", "not-the-password")).await;

    assert_eq!(
        assert_oauth_error(&inactive, StatusCode::BAD_REQUEST, "invalid_grant"),
        assert_oauth_error(&wrong, StatusCode::BAD_REQUEST, "invalid_grant"),
    );
    // /api/token/ says the same for it.
    assert_eq!(
        app.login("dave1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn guesses_are_throttled_together_with_api_token() {
    let app = spawn_app_with(|a| a.login_failures = 5).await;
    app.user("erin1").await;

    // Five wrong guesses, spread over both endpoints…
    for _ in 0..3 {
        let r = app.login("erin1", "wrong-guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    for _ in 0..2 {
        let r = token(&app, &password_grant("erin1", "wrong-guess")).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    // …and the sixth is refused before the password is checked, the right one too, on both.
    let r = token(&app, &password_grant("erin1", PASSWORD)).await;
    let description =
        assert_oauth_error(&r, StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    assert!(
        description.contains(&format!("{retry} seconds")),
        "{description}"
    );
    let r = app.login("erin1", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // Another account from the same address is not affected.
    app.user("frank1").await;
    let r = token(&app, &password_grant("frank1", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn the_document_offers_the_password_flow_on_every_protected_operation() {
    let app = spawn_app().await;
    let spec: Value = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .json();

    let oauth2 = &spec["components"]["securitySchemes"]["oauth2"];
    assert_eq!(oauth2["type"], "oauth2");
    let flow = &oauth2["flows"]["password"];
    assert_eq!(flow["tokenUrl"], TOKEN);
    assert_eq!(flow["refreshUrl"], TOKEN);
    // OpenAPI 3.0 requires `scopes`, empty when the server defines none.
    assert_eq!(flow["scopes"], json!({}));
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );

    let mut protected = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            // `security: []` marks a public operation.
            if let Some(security) = op.get("security").filter(|s| s != &&json!([])) {
                protected += 1;
                assert_eq!(
                    security,
                    &json!([{"bearerAuth": []}, {"oauth2": []}]),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(protected > 10, "{protected} protected operations");

    let op = &spec["paths"]["/api/oauth/token"]["post"];
    assert_eq!(op["security"], json!([]));
    let content = op["requestBody"]["content"].as_object().expect("content");
    assert_eq!(content.keys().collect::<Vec<_>>(), [FORM]);
    for status in ["200", "400", "429", "500", "503"] {
        assert!(
            op["responses"][status].is_object(),
            "{status} not documented"
        );
    }
}
