//! Open streams per user are capped, WebSockets and SSE together, however many open at
//! once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// Opens `/ws/tasks/`: the socket, or the HTTP status and body it was refused with.
async fn try_ws(app: &TestApp, token: &str) -> Result<Ws, (u16, Option<String>, Value)> {
    let ticket = app.ticket(token).await;
    match tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/tasks/?ticket={ticket}"))).await
    {
        Ok((inner, _)) => Ok(Ws { inner }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp.body().clone().unwrap_or_default();
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Err((resp.status().as_u16(), retry, body))
        }
        Err(e) => panic!("ws connect: {e}"),
    }
}

async fn sse(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/events/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn open_streams_per_user_are_capped_for_websockets_and_sse_together() {
    // Arrange: at most 3 streams per user; a stream whose client has gone ends within a
    // second.
    let app = spawn_app_with(|a| {
        a.max_streams_per_user = 3;
        a.send_timeout = Duration::from_secs(1);
    })
    .await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(try_ws(&app, &alice).await.expect("one of the first 3"));
    }

    // Act + Assert: a 4th WebSocket is refused before the upgrade, DRF-shaped.
    let (status, retry, body) = match try_ws(&app, &alice).await {
        Ok(_) => panic!("a 4th socket was opened"),
        Err(refused) => refused,
    };
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    assert!(
        body["detail"].as_str().unwrap().contains("at most 3"),
        "{body}"
    );
    // SSE counts against the same cap.
    let r = read(sse(&app, &alice).await).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
    assert!(r.json()["detail"].is_string(), "{}", r.text);
    // Other users have their own slots.
    let bobs = try_ws(&app, &bob).await.expect("bob's socket");

    // Closing one frees its slot (once the server has seen the close).
    let mut closing = open.pop().unwrap();
    closing.inner.close(None).await.unwrap();
    drop(closing);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut reopened = loop {
        match try_ws(&app, &alice).await {
            Ok(ws) => break ws,
            Err((429, ..)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(other) => panic!("the freed slot was not reusable: {other:?}"),
        }
    };
    // And the new stream works.
    let t = app.new_task(&alice, "After reopening").await;
    assert_eq!(reopened.next_json().await["task"], t);
    // An SSE stream whose client goes away frees its slot as well.
    drop(open);
    drop(bobs);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let first = loop {
        let (status, stream) = raw_sse(&app, &alice).await;
        if status == 200 {
            break stream;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(raw_sse(&app, &alice).await.0, 200);
    assert_eq!(raw_sse(&app, &alice).await.0, 429);
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while raw_sse(&app, &alice).await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "SSE slot never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /api/events/` over a plain TCP connection (closed when dropped, as a browser's
/// `EventSource.close()` does): the status, and the connection.
async fn raw_sse(app: &TestApp, token: &str) -> (u16, tokio::net::TcpStream) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET /api/events/ HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        app.addr
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "no response head");
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, stream)
}

#[tokio::test]
async fn a_hundred_concurrent_opens_never_exceed_the_cap() {
    let app = spawn_app_with(|a| a.max_streams_per_user = 3).await;
    let (alice, _) = app.user("alice1").await;
    let opens = (0..100).map(|i| {
        let (app, alice) = (&app, &alice);
        async move {
            if i % 2 == 0 {
                match try_ws(app, alice).await {
                    Ok(ws) => (true, Some(ws), None),
                    Err((status, ..)) => {
                        assert_eq!(status, 429);
                        (false, None, None)
                    }
                }
            } else {
                let r = sse(app, alice).await;
                match r.status() {
                    StatusCode::OK => (true, None, Some(r)),
                    s => {
                        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
                        (false, None, None)
                    }
                }
            }
        }
    });
    let results = futures_util::future::join_all(opens).await;
    let opened = results.iter().filter(|(ok, ..)| *ok).count();
    assert_eq!(opened, 3, "{opened} streams opened with a cap of 3");
}
