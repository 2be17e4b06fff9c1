//! Health and metrics: `/healthz` answers when the database does, and `/metrics` is off
//! by default, counts requests by route, and does not grow with made-up methods and paths.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let app = spawn_app().await;
    let r = crate::helpers::read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["database"], "ok");
}

#[tokio::test]
async fn metrics_are_off_by_default_and_count_requests_by_route_when_on() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let app = spawn_app_with(|a| a.metrics = true).await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Counted task").await;
    app.get(&format!("/api/tasks/{}/", t["id"]), &token).await;
    let _ws = app.ws(&token, None).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"tasklane_http_requests_total{method="GET",route="/api/tasks/{id}",status="200"} 1"#,
        r#"tasklane_http_requests_total{method="POST",route="/api/tasks",status="201"} 1"#,
        r#"tasklane_open_streams{kind="websocket"} 1"#,
        "tasklane_events_published_total 1",
        "tasklane_redis_connected -1",
        "tasklane_http_request_duration_seconds_bucket",
        r#"tasklane_db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    // Arrange
    let app = spawn_app_with(|a| a.metrics = true).await;

    // Act: 2,000 requests with made-up methods, and 2,000 to made-up paths.
    for i in 0..2000 {
        let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/healthz"
        } else {
            "/api/tasks/"
        };
        let r = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    for i in 0..2000 {
        let r = app
            .client
            .get(app.url(&format!("/nowhere-{i}/x{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    // Assert: the exposition stays small, with one `OTHER` method and one `other` route.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.len() < 64 << 10, "/metrics is {} bytes", text.len());
    assert!(text.contains(r#"method="OTHER""#), "{text}");
    assert!(text.contains(r#"route="other""#), "{text}");
    assert!(!text.contains("FOO"), "a made-up method became a label");
    assert!(!text.contains("nowhere"), "a made-up path became a label");
}
