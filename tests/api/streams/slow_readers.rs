//! Memory an attacker cannot grow: metric labels from made-up methods and paths, open
//! streams per user, and streams whose client stops reading.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

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

/// The process's resident memory in KB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// `tasklane_open_streams{kind}` from `/metrics`.
async fn open_streams(client: &reqwest::Client, p: &Proc, kind: &str) -> i64 {
    let text = client
        .get(p.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("tasklane_open_streams{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn wait_for_streams(
    client: &reqwest::Client,
    p: &Proc,
    kind: &str,
    n: i64,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = open_streams(client, p, kind).await;
        if now == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{kind} streams: {now}, expected {n} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A task as large as the validators allow: ~60 KB of event JSON (control characters
/// are written `\u0001`, six bytes each).
fn big_task(i: usize) -> Value {
    let title = format!("{i:05}{}", "\u{1}".repeat(250));
    json!({"title": title, "description": "\u{1}".repeat(10_000)})
}

/// Writes `n` of the largest tasks through `p`, 8 at a time; returns the peak RSS seen
/// (KB) while writing.
async fn write_big_tasks(client: &reqwest::Client, p: &Proc, token: &str, n: usize) -> u64 {
    let pid = p.child.id();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak.max(rss_kb(pid))
        })
    };
    let url = p.url("/api/tasks/");
    for chunk in 0..n.div_ceil(8) {
        let writes = (0..8).map(|j| {
            let body = big_task(chunk * 8 + j);
            let req = client.post(&url).bearer_auth(token).json(&body);
            async move { req.send().await.unwrap().status() }
        });
        for status in futures_util::future::join_all(writes).await {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.await.unwrap()
}

/// A TCP connection with a tiny receive buffer, so the server's writes back up at once.
async fn tiny_window(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset); the bytes read.
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> usize {
    let mut buf = vec![0; 64 << 10];
    let mut total = 0;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after {total} bytes"),
            Ok(Ok(0) | Err(_)) => return total,
            Ok(Ok(n)) => total += n,
        }
    }
}

/// Opens an SSE stream (replaying from `since`) on a tiny-window connection that is
/// never read.
async fn stalled_sse(p: &Proc, token: &str, since: Option<i64>) -> tokio::net::TcpStream {
    let mut stream = tiny_window(p.addr).await;
    let query = since.map_or(String::new(), |s| format!("?since={s}"));
    let req = format!(
        "GET /api/events/{query} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Accept: text/event-stream\r\n\r\n",
        p.addr
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    stream
}

/// How a stalled stream is opened for these tests.
enum Kind {
    Sse,
    WebSocket,
}

/// The attack: open a stream, never read it, and write 1,000 events of ~60 KB to it.
/// Returns (RSS growth in MB while writing, bytes the client could read afterwards).
async fn stall(kind: Kind) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_tasklane(&dir.path().join("stall.db"), &["--metrics"]);
    let client = reqwest::Client::new();
    let token = user_on(&client, &server, "owner1").await;
    // Warm up (allocator arenas, SQLite's cache) with the same writes, no stream open.
    write_big_tasks(&client, &server, &token, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kb(server.child.id());

    let (mut stream, label) = match kind {
        Kind::Sse => (stalled_sse(&server, &token, None).await, "sse"),
        Kind::WebSocket => {
            let ticket = stream_ticket(&client, &server.url(""), &token).await;
            let mut stream = tiny_window(server.addr).await;
            let req = format!(
                "GET /ws/tasks/?ticket={ticket} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                server.addr
            );
            stream.write_all(req.as_bytes()).await.unwrap();
            (stream, "websocket")
        }
    };
    wait_for_streams(&client, &server, label, 1, Duration::from_secs(5)).await;

    let peak = write_big_tasks(&client, &server, &token, 1000).await;
    let growth_mb = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!("{label}: RSS {before} KB before, peak {peak} KB while writing: +{growth_mb:.1} MB");

    // The send deadline (10 s) closes the stream whose client stopped reading.
    wait_for_streams(&client, &server, label, 0, Duration::from_secs(20)).await;
    let read = read_to_close(&mut stream, Duration::from_secs(10)).await;
    eprintln!("{label}: the client could read {read} bytes before the close");
    (growth_mb, read)
}

#[tokio::test]
async fn an_sse_client_that_stops_reading_is_cut_off_and_pins_little_memory() {
    let (growth_mb, read) = stall(Kind::Sse).await;
    assert!(growth_mb < 30.0, "RSS grew by {growth_mb:.1} MB");
    // What the client finds once it reads again is what the kernel buffered, not the
    // 60 MB written: the server kept no backlog.
    assert!(
        read < 8 << 20,
        "{read} bytes were still queued for the client"
    );
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_cut_off_and_pins_little_memory() {
    let (growth_mb, read) = stall(Kind::WebSocket).await;
    assert!(growth_mb < 30.0, "RSS grew by {growth_mb:.1} MB");
    assert!(
        read < 8 << 20,
        "{read} bytes were still queued for the client"
    );
}

#[tokio::test]
async fn streams_replaying_a_long_history_to_clients_that_never_read_pin_little_memory() {
    // Arrange: 600 of the largest events (~36 MB) in the history.
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_tasklane(&dir.path().join("replay.db"), &["--metrics"]);
    let client = reqwest::Client::new();
    let token = user_on(&client, &server, "owner1").await;
    write_big_tasks(&client, &server, &token, 600).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id();
    let before = rss_kb(pid);

    // Act: 10 streams replay it from the start to clients that never read.
    let mut stalled = Vec::new();
    for _ in 0..10 {
        stalled.push(stalled_sse(&server, &token, Some(0)).await);
    }
    wait_for_streams(&client, &server, "sse", 10, Duration::from_secs(5)).await;
    let mut peak = 0;
    for _ in 0..20 {
        peak = peak.max(rss_kb(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert: each holds at most a bounded batch of the history, and all are cut off.
    let growth_mb = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "replay: RSS {before} KB before, peak {peak} KB with 10 stalled streams: +{growth_mb:.1} MB"
    );
    assert!(growth_mb < 30.0, "RSS grew by {growth_mb:.1} MB");
    wait_for_streams(&client, &server, "sse", 0, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_page_of_changes_is_bounded_in_bytes() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for chunk in 0..13 {
        let writes = (0..8).map(|i| app.create_task(&token, big_task(chunk * 8 + i)));
        for r in futures_util::future::join_all(writes).await {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
    }
    // 104 events of ~60 KB: more than a page may hold, though the limit allows them.
    let page = app.get("/api/changes/?since=0&limit=1000", &token).await;
    assert!(
        page.text.len() < 2 << 20,
        "a page of {} bytes",
        page.text.len()
    );
    let page = page.json();
    let got = page["events"].as_array().unwrap().len() as i64;
    assert!((1..104).contains(&got), "{got} events");
    assert_eq!(page["more"], true);
    assert_eq!(page["cursor"], got);
    let rest = app
        .get(&format!("/api/changes/?since={got}&limit=1000"), &token)
        .await
        .json();
    assert_eq!(rest["events"][0]["event_id"], got + 1);
}
