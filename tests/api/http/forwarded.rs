//! Behind a reverse proxy: with `--trust-x-forwarded-for`, the absolute URLs the API
//! writes (the API root's links) follow the right-most `X-Forwarded-Proto` and
//! `X-Forwarded-Host`, the values the proxy appended; without it, those headers are
//! ignored; with `--public-url`, no header counts. (The own origin under CORS: `cors`.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// `GET /api/` with `headers`.
async fn api_root(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> Value {
    let mut req = app.client.get(app.url("/api/")).bearer_auth(token);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = read(req.send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

const PROXIED: &[(&str, &str)] = &[
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "tasks.example.com"),
];

#[tokio::test]
async fn with_the_flag_the_api_root_names_the_proxy_s_scheme_and_host() {
    let app = spawn_app_with(|a| a.trust_x_forwarded_for = true).await;
    let (token, _) = app.user("proxy1").await;
    assert_eq!(
        api_root(&app, &token, PROXIED).await,
        json!({
            "tasks": "https://tasks.example.com/api/tasks/",
            "users": "https://tasks.example.com/api/users/",
        })
    );
    // After a value the client sent: the right-most, the one our proxy appended.
    let root = api_root(
        &app,
        &token,
        &[
            ("x-forwarded-proto", "http, https"),
            ("x-forwarded-host", "10.0.0.7:8000, tasks.example.com:8443"),
        ],
    )
    .await;
    assert_eq!(root["tasks"], "https://tasks.example.com:8443/api/tasks/");
    // Only the scheme, or only the host, forwarded.
    let root = api_root(&app, &token, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(root["tasks"], format!("https://{}/api/tasks/", app.addr));
    let root = api_root(&app, &token, &[("x-forwarded-host", "tasks.example.com")]).await;
    assert_eq!(root["tasks"], "http://tasks.example.com/api/tasks/");
    // Nothing forwarded: the Host the client sent.
    let root = api_root(&app, &token, &[]).await;
    assert_eq!(root["tasks"], format!("http://{}/api/tasks/", app.addr));
}

#[tokio::test]
async fn with_the_flag_odd_forwarded_values_are_not_written_into_urls() {
    let app = spawn_app_with(|a| a.trust_x_forwarded_for = true).await;
    let (token, _) = app.user("proxy2").await;
    for (proto, host) in [
        ("javascript", "evil.example/phish?"),
        ("https:", "evil.example@tasks.example.com"),
        ("ftp", "evil.example:80:80"),
        ("http", "<script>"),
        ("gopher", "[::1"),
    ] {
        let root = api_root(
            &app,
            &token,
            &[("x-forwarded-proto", proto), ("x-forwarded-host", host)],
        )
        .await;
        assert_eq!(
            root["tasks"],
            format!("http://{}/api/tasks/", app.addr),
            "{proto} {host}"
        );
    }
    let root = api_root(
        &app,
        &token,
        &[
            ("x-forwarded-proto", "HTTPS"),
            ("x-forwarded-host", "[2001:db8::1]:443"),
        ],
    )
    .await;
    assert_eq!(root["users"], "https://[2001:db8::1]:443/api/users/");
}

#[tokio::test]
async fn without_the_flag_forwarded_headers_are_ignored() {
    let app = spawn_app().await;
    let (token, _) = app.user("proxy3").await;
    let expected = json!({
        "tasks": format!("http://{}/api/tasks/", app.addr),
        "users": format!("http://{}/api/users/", app.addr),
    });
    assert_eq!(api_root(&app, &token, PROXIED).await, expected);
    assert_eq!(api_root(&app, &token, &[]).await, expected);
}

/// The `Link` to the next page stays relative, so it is right behind any proxy.
#[tokio::test]
async fn the_next_page_link_is_relative() {
    let app = spawn_app_with(|a| a.trust_x_forwarded_for = true).await;
    let (token, _) = app.user("proxy4").await;
    app.new_task(&token, "First task").await;
    app.new_task(&token, "Second task").await;
    let mut req = app
        .client
        .get(app.url("/api/tasks/?limit=1"))
        .bearer_auth(&token);
    for (name, value) in PROXIED {
        req = req.header(*name, *value);
    }
    let r = read(req.send().await.unwrap()).await;
    assert_eq!(
        r.header("link"),
        Some(r#"</api/tasks/?limit=1&cursor=aWQKMQpu>; rel="next""#)
    );
}

/// The client writes `X-Forwarded-Host` and `-Proto` too; a proxy that appends puts its
/// own values after them (on the same line or a line of its own). Only those count.
#[tokio::test]
async fn a_forwarded_host_the_client_wrote_is_not_believed() {
    let app = spawn_app_with(|a| a.trust_x_forwarded_for = true).await;
    let (token, _) = app.user("proxy5").await;
    let root = api_root(
        &app,
        &token,
        &[
            ("x-forwarded-host", "evil.example, tasks.example.com"),
            ("x-forwarded-proto", "http, https"),
        ],
    )
    .await;
    assert_eq!(root["tasks"], "https://tasks.example.com/api/tasks/");
    let root = api_root(
        &app,
        &token,
        &[
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "tasks.example.com"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "http"),
        ],
    )
    .await;
    assert_eq!(root["tasks"], "http://tasks.example.com/api/tasks/");
    // A malformed value from the proxy falls back to the Host, never to the client's.
    let root = api_root(
        &app,
        &token,
        &[("x-forwarded-host", "evil.example, bad/host")],
    )
    .await;
    assert_eq!(root["tasks"], format!("http://{}/api/tasks/", app.addr));
}

/// `--public-url`: every absolute URL is built from it; `Host` and the forwarded headers
/// are ignored, even from a trusted proxy.
#[tokio::test]
async fn with_a_public_url_no_request_header_makes_a_url() {
    let app = spawn_app_with(|a| {
        a.trust_x_forwarded_for = true;
        a.public_url = Some("https://Tasks.Example.com:443/".parse().unwrap());
    })
    .await;
    let (token, _) = app.user("proxy6").await;
    let expected = json!({
        "tasks": "https://tasks.example.com/api/tasks/",
        "users": "https://tasks.example.com/api/users/",
    });
    for headers in [
        &[][..],
        &[("host", "evil.example")][..],
        &[
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "http"),
        ][..],
    ] {
        assert_eq!(
            api_root(&app, &token, headers).await,
            expected,
            "{headers:?}"
        );
    }
    // The next page's link is absolute on it too.
    app.new_task(&token, "First task").await;
    app.new_task(&token, "Second task").await;
    let r = read(
        app.client
            .get(app.url("/api/tasks/?limit=1"))
            .bearer_auth(&token)
            .header("host", "evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.header("link"),
        Some(r#"<https://tasks.example.com/api/tasks/?limit=1&cursor=aWQKMQpu>; rel="next""#)
    );
}

#[test]
fn a_public_url_must_be_an_origin() {
    for bad in [
        "tasks.example.com",
        "ftp://tasks.example.com",
        "https://tasks.example.com/app",
        "https://tasks.example.com/?x=1",
        "https://tasks.example.com/#x",
        "https://user:pw@tasks.example.com",
        "https://bad_host.example",
    ] {
        let parsed = <tasklane::config::Cli as clap::Parser>::try_parse_from([
            "tasklane",
            "--public-url",
            bad,
        ]);
        assert!(parsed.is_err(), "{bad} was accepted");
    }
}

/// Without `--public-url` the `Host` a client sent is reflected, as the original did
/// (needed for a plain `cargo run`): documented, and `--public-url` is the remedy.
#[tokio::test]
async fn without_a_public_url_the_host_is_reflected() {
    let app = spawn_app().await;
    let (token, _) = app.user("proxy7").await;
    let root = api_root(&app, &token, &[("host", "anything.example:8080")]).await;
    assert_eq!(root["tasks"], "http://anything.example:8080/api/tasks/");
}
