//! Streams whose client reads slowly or not at all: a slow WebSocket consumer is closed
//! with 4008 and resumes losslessly; an SSE or WebSocket client that stops reading is cut
//! off by its write deadline and pins little memory, even while a long history replays.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

#[tokio::test]
async fn a_slow_consumer_is_closed_with_4008_and_resumes_losslessly() {
    // Arrange: a stream may fall only 8 events behind; the client does not read, and
    // its receive buffer is tiny, so the server's writes back up.
    let app = spawn_app_with(|a| a.stream_buffer = 8).await;
    let (token, _) = app.user("alice1").await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let ticket = app.ticket(&token).await;
    let (inner, _) = tokio_tungstenite::client_async(
        app.ws_url(&format!("/ws/tasks/?ticket={ticket}")),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut slow = Ws { inner };

    // Act: 700 events of ~8 KB each (more than the kernel's socket buffers hold) while
    // the client sleeps.
    let big = "x".repeat(8000);
    for chunk in 0..70 {
        let writes = (0..10).map(|i| {
            app.create_task(
                &token,
                json!({"title": format!("Big task {chunk}-{i}"), "description": big}),
            )
        });
        futures_util::future::join_all(writes).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: it gets a prefix of the events, then 4008 telling where to resume.
    let mut got = Vec::new();
    let (code, reason) = loop {
        match slow.next_within(Duration::from_secs(20)).await {
            WsNext::Json(v) => got.push(v),
            WsNext::Closed(code, reason) => break (code, reason),
            WsNext::Timeout => panic!("no close after {} events", got.len()),
        }
    };
    assert_eq!(code, Some(4008), "{reason}");
    let last = got.last().map_or(0, |e| e["event_id"].as_i64().unwrap());
    assert_eq!(ids(&got), (1..=last).collect::<Vec<_>>());
    assert!(last < 700, "the client was never behind");
    assert!(reason.contains(&format!("since={last}")), "{reason}");

    let mut resumed = app.ws(&token, Some(last)).await;
    assert_eq!(
        ids(&resumed.events_through(700).await),
        ((last + 1)..=700).collect::<Vec<_>>()
    );
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
pub(super) fn big_task(i: usize) -> Value {
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
