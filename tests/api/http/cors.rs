//! CORS: off by default, only for the configured origins, never a wildcard; and the
//! server's own origin (behind a proxy or at `--public-url`) is never refused.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn cors_is_off_by_default_and_only_for_configured_origins() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let app = spawn_app_with(|a| a.cors_origins = vec!["https://app.example.com".into()]).await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let pre = app
        .client
        .request(Method::OPTIONS, app.url("/api/tasks/"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let evil = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_wildcard_cors_origin_is_refused_at_start() {
    let parsed =
        <tasklane::config::Cli as clap::Parser>::try_parse_from(["tasklane", "--cors-origin", "*"]);
    assert!(parsed.is_err());
}

/// The status of a WebSocket upgrade to `/ws/tasks/` with `origin` (101 when it opened).
async fn ws_upgrade(app: &TestApp, token: &str, origin: &str, extra: &[(&str, &str)]) -> u16 {
    use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
    let mut req = app
        .ws_url("/ws/tasks/")
        .into_client_request()
        .expect("ws request");
    let h = req.headers_mut();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h.insert("origin", origin.parse().unwrap());
    for (name, value) in extra {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes());
        h.insert(name.unwrap(), value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_ws, resp)) => resp.status().as_u16(),
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("ws: {e}"),
    }
}

/// A write and the WebSocket from `origin` (with `extra` headers): their statuses.
async fn from_origin(
    app: &TestApp,
    token: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, u16) {
    let mut req = app
        .client
        .post(app.url("/api/tasks/"))
        .bearer_auth(token)
        .header("origin", origin)
        .json(&json!({"title": "From a page"}));
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let write = req.send().await.unwrap().status();
    (write, ws_upgrade(app, token, origin, extra).await)
}

/// `--cors-origin https://other.example` lets that origin in, and must not shut out the
/// server's own pages (`/real_data/`): same-origin writes and its WebSocket carry an
/// `Origin` too.
#[tokio::test]
async fn with_cors_origins_the_server_s_own_origin_is_still_allowed() {
    let app = spawn_app_with(|a| a.cors_origins = vec!["https://other.example".into()]).await;
    let (token, _) = app.user("cors1").await;
    let own = format!("http://{}", app.addr);
    let created = StatusCode::CREATED;
    assert_eq!(from_origin(&app, &token, &own, &[]).await, (created, 101));
    // Behind a TLS proxy that does not say so, the page is https on the same host.
    let https_own = format!("https://{}", app.addr);
    assert_eq!(
        from_origin(&app, &token, &https_own, &[]).await,
        (created, 101)
    );
    assert_eq!(
        from_origin(&app, &token, "https://other.example", &[]).await,
        (created, 101)
    );
    // Anyone else is still refused, including a page that names the host elsewhere.
    for evil in [
        "https://evil.example",
        "null",
        &format!("http://{}.evil.example", app.addr.ip()),
    ] {
        assert_eq!(
            from_origin(&app, &token, evil, &[]).await,
            (StatusCode::FORBIDDEN, 403),
            "{evil}"
        );
    }
}

/// Behind a trusted proxy, "own" is what the proxy says the client reached; with
/// `--public-url`, it is that URL's origin and nothing else.
#[tokio::test]
async fn the_own_origin_follows_the_proxy_or_the_public_url() {
    let proxied: &[(&str, &str)] = &[
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "tasks.example.com"),
    ];
    let app = spawn_app_with(|a| {
        a.cors_origins = vec!["https://other.example".into()];
        a.trust_x_forwarded_for = true;
    })
    .await;
    let (token, _) = app.user("cors2").await;
    assert_eq!(
        from_origin(&app, &token, "https://tasks.example.com", proxied).await,
        (StatusCode::CREATED, 101)
    );
    // The proxy said https: the plain-http page is another origin.
    assert_eq!(
        from_origin(&app, &token, "http://tasks.example.com", proxied).await,
        (StatusCode::FORBIDDEN, 403)
    );

    let app = spawn_app_with(|a| {
        a.cors_origins = vec!["https://other.example".into()];
        a.public_url = Some("https://tasks.example.com".parse().unwrap());
    })
    .await;
    let (token, _) = app.user("cors3").await;
    assert_eq!(
        from_origin(&app, &token, "https://tasks.example.com", &[]).await,
        (StatusCode::CREATED, 101)
    );
    // A Host the client picked does not make its page "own".
    assert_eq!(
        from_origin(
            &app,
            &token,
            "https://evil.example",
            &[("host", "evil.example")]
        )
        .await,
        (StatusCode::FORBIDDEN, 403)
    );
}
