//! The live page in a real headless Chromium (the harness: `helpers::browser`) rides
//! through its access token's expiry and through a reload.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::browser::browser;
use crate::helpers::*;

#[tokio::test]
async fn the_live_page_rides_through_access_token_expiry_and_reloads() {
    let Some(b) = browser().await else { return };
    // Access tokens of 2 s: the socket closes with 4001 and the page must refresh and resume.
    let app = spawn_app_with(|a| a.access_ttl = Duration::from_secs(2)).await;
    app.user("carol1").await;

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.fill("#username", "carol1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    let connected = async || {
        let v = b
            .js(
                "return document.querySelector('#status').dataset.state",
                vec![],
            )
            .await;
        (v == "connected").then_some(())
    };
    b.until("the first connection", connected).await;
    let stored = "return localStorage.getItem('tasklane.refresh')";
    let first = b.js(stored, vec![]).await;
    assert!(first.is_string(), "no refresh token in localStorage");

    // The page traded its refresh token (rotation) and is connected again.
    let rotated = async || {
        let now = b.js(stored, vec![]).await;
        (now.is_string() && now != first).then_some(())
    };
    b.until("a token refresh", rotated).await;
    b.until("the reconnection", connected).await;

    // Changes still arrive: made with a token of its own, after the page's first expired.
    let (access, _) = {
        let v = app.login("carol1", PASSWORD).await.json();
        (v["access"].as_str().expect("access").to_owned(), ())
    };
    let task = app.new_task(&access, "Renew the passport").await;
    let id = task["id"].as_i64().expect("id");
    b.until("the task after the refresh", async || {
        (b.task_row(id).await["title"] == "Renew the passport").then_some(())
    })
    .await;

    // A reload keeps the session (localStorage) and lists the task again.
    b.client.refresh().await.expect("reload");
    b.until("the task after a reload", async || {
        (b.task_row(id).await["title"] == "Renew the passport").then_some(())
    })
    .await;
    b.until("the connection after a reload", connected).await;
    let login_hidden = b
        .js(
            "return document.querySelector('#login-view').hidden",
            vec![],
        )
        .await;
    assert_eq!(login_hidden, json!(true), "a reload must not log out");

    // Log out: the refresh token is revoked, storage cleared, the login form is back.
    let refresh = b.js(stored, vec![]).await;
    b.client
        .find(Locator::Css("#logout"))
        .await
        .expect("logout button")
        .click()
        .await
        .expect("click");
    b.until("the login form", async || {
        let v = b
            .js(
                "return !document.querySelector('#login-view').hidden
                     && localStorage.length === 0
                     && document.querySelector('#status').dataset.state === 'offline'",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    // The revoke call finished (Resource Timing records it once answered)…
    b.until("the revoke request to be answered", async || {
        let v = b
            .js(
                "return performance.getEntriesByType('resource')
                     .filter(e => e.name.endsWith('/api/token/revoke/'))
                     .map(e => e.responseStatus)",
                vec![],
            )
            .await;
        (v == json!([204])).then_some(())
    })
    .await;
    // …so the page's last refresh token is dead.
    let r = app.refresh(refresh.as_str().expect("refresh token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    b.quit().await;
}
