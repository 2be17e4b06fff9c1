//! The live stream as Server-Sent Events: resuming from `Last-Event-ID`, tickets in the
//! query, and never a token there.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn sse_resumes_from_last_event_id() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..5 {
        app.new_task(&token, &format!("Task {i}")).await;
    }
    let resp = app
        .client
        .get(app.url("/api/events/"))
        .bearer_auth(&token)
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let writer = {
        let app_url = app.url("/api/tasks/");
        let client = app.client.clone();
        let token = token.clone();
        tokio::spawn(async move {
            for i in 0..5 {
                client
                    .post(&app_url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("Live {i}")}))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let events = sse_events_through(resp, 10).await;
    writer.await.unwrap();
    let got: Vec<i64> = events
        .iter()
        .map(|(id, _, v)| {
            assert_eq!(id, &v["event_id"].to_string());
            v["event_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(got, (4..=10).collect::<Vec<_>>());

    let r = app.get_with_auth("/api/events/", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A browser's `EventSource` cannot set headers: a single-use ticket rides in `?ticket=`.
#[tokio::test]
async fn sse_takes_a_ticket_in_the_query() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let resp = app
        .client
        .get(app.url(&format!("/api/events/?ticket={}", app.ticket(&token).await)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let t = app.new_task(&token, "Heard by EventSource").await;
    let events = sse_events_through(resp, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "1");
    assert_eq!(events[0].2["action"], "create");
    assert_eq!(events[0].2["task"], t);

    // Resuming with `since` works the same way, with a new ticket.
    let resp = app
        .client
        .get(app.url(&format!(
            "/api/events/?since=0&ticket={}",
            app.ticket(&token).await
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sse_events_through(resp, 1).await[0].2["task"], t);
}

#[tokio::test]
async fn sse_refuses_tokens_in_the_query() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("alice1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;

    // A personal API token never travels in a URL, not even beside a good header.
    for authorization in [None, Some(format!("Bearer {access}"))] {
        let r = app
            .get_with_auth(
                &format!("/api/events/?token={script}"),
                authorization.as_deref(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.json()["code"], "token_in_url");
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    }

    // No token of any kind goes in `?token=` (access tokens only with the deprecated
    // `--allow-token-in-url`), and a refresh token or rubbish is no ticket.
    for query in [
        format!("token={refresh}"),
        format!("token={access}"),
        "token=nonsense".to_owned(),
        "token=".to_owned(),
    ] {
        let r = app
            .get_with_auth(&format!("/api/events/?{query}"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{query}: {}", r.text);
        assert_eq!(r.json()["code"], "token_in_url", "{query}");
    }
    for query in [format!("ticket={refresh}"), "ticket=nonsense".to_owned()] {
        let r = app
            .get_with_auth(&format!("/api/events/?{query}"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{query}: {}", r.text);
        assert_eq!(r.json()["code"], "ticket_not_valid", "{query}");
    }
    // The credential is checked first, as on every route behind the Bearer scheme.
    let r = app.get_with_auth("/api/events/?since=-1", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let ticket = app.ticket(&access).await;
    let r = app
        .get_with_auth(&format!("/api/events/?since=-1&ticket={ticket}"), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // The API token still works in the header.
    let resp = app
        .client
        .get(app.url("/api/events/"))
        .bearer_auth(&script)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
