//! Which address a throttle counts: each forwarded address behind a trusted proxy (the
//! right-most of every `X-Forwarded-For` line), and IPv6 clients per /64.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use super::login_via;

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let app = spawn_app_with(|a| {
        a.login_failures_per_address = 2;
        a.trust_x_forwarded_for = true;
    })
    .await;
    let login_from = |ip: &'static str| {
        let req = app
            .client
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
            .json(&json!({"username": "nobody", "password": "wrong-password"}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(login_from("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(login_from("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login_from("198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(login_from("198.51.100.2").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    // Arrange: a server on the IPv6 loopback, behind a "proxy" naming the clients.
    let Some(app) = spawn_app_on("[::1]:0", |a| {
        a.trust_x_forwarded_for = true;
        a.login_failures_per_address = 2;
    })
    .await
    else {
        eprintln!("SKIPPED ipv6_clients_are_counted_per_64: cannot bind [::1] here");
        return;
    };
    let guess = |xff: &'static str| {
        let app = &app;
        async move {
            login_via(app, "nobody", "wrong-password", &[xff])
                .await
                .status
        }
    };

    // Act + Assert: two addresses in one /64 share its budget ...
    assert_eq!(guess("2001:db8:1:2::a").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        guess("2001:db8:1:2:ffff:ffff:ffff:ffff").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        guess("2001:db8:1:2::b").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... the next /64 has its own ...
    assert_eq!(guess("2001:db8:1:3::a").await, StatusCode::UNAUTHORIZED);
    // ... and an IPv4-mapped address is that IPv4 address.
    assert_eq!(guess("::ffff:198.51.100.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess("198.51.100.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        guess("[::ffff:198.51.100.7]:443").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Without the proxy, the IPv6 peer itself is counted.
    let app = spawn_app_on("[::1]:0", |a| a.login_failures_per_address = 1)
        .await
        .expect("bound [::1] a moment ago");
    assert_eq!(
        app.login("nobody", "wrong-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("nobody2", "wrong-password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn every_forwarded_for_line_is_read_and_the_rightmost_address_wins() {
    let app = spawn_app_with(|a| {
        a.trust_x_forwarded_for = true;
        a.login_failures_per_address = 2;
    })
    .await;
    // The client wrote the first line; the proxy appended the second.
    let two_lines = ["198.51.100.1", "203.0.113.5, 198.51.100.2:4321"];

    for _ in 0..2 {
        let r = login_via(&app, "nobody", "wrong-password", &two_lines).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let charged = login_via(&app, "nobody", "wrong-password", &["198.51.100.2"]).await;
    let spoofed = login_via(&app, "nobody", "wrong-password", &["198.51.100.1"]).await;

    assert_eq!(charged.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spoofed.status, StatusCode::UNAUTHORIZED);
}
