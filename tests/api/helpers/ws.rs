//! Stream clients: WebSockets to `/ws/tasks/` (through a ticket, or a bearer header) and
//! the events they receive, on an in-process server or a process; SSE events read from a
//! response.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::*;

/// A WebSocket client of `/ws/tasks/`.
pub struct Ws {
    pub inner: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server sent next.
#[derive(Debug)]
pub enum WsNext {
    Json(Value),
    Closed(Option<u16>, String),
    Timeout,
}

impl TestApp {
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("ws://{}{}", self.addr, path_and_query)
    }

    /// A single-use stream ticket minted with `token` (`POST /api/stream-tickets/`).
    pub async fn ticket(&self, token: &str) -> String {
        stream_ticket(&self.client, &self.url(""), token).await
    }

    /// Opens `/ws/tasks/?ticket=…[&since=…]` with a ticket minted with `token`, as a
    /// browser does; panics unless the upgrade succeeds.
    pub async fn ws(&self, token: &str, since: Option<i64>) -> Ws {
        let ticket = self.ticket(token).await;
        let mut url = self.ws_url(&format!("/ws/tasks/?ticket={ticket}"));
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (inner, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Ws { inner }
    }
}

impl Ws {
    /// The next text message as JSON (pings/pongs skipped), a close, or a timeout.
    pub async fn next_within(&mut self, wait: Duration) -> WsNext {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => return WsNext::Timeout,
                Ok(None) => return WsNext::Closed(None, String::new()),
                Ok(Some(Err(e))) => return WsNext::Closed(None, e.to_string()),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    return WsNext::Json(serde_json::from_str(&t).expect("json frame"));
                }
                Message::Close(Some(f)) => {
                    return WsNext::Closed(Some(f.code.into()), f.reason.to_string());
                }
                Message::Close(None) => return WsNext::Closed(None, String::new()),
                _ => continue,
            }
        }
    }

    /// The next message, which must be JSON, within 10 s.
    pub async fn next_json(&mut self) -> Value {
        match self.next_within(Duration::from_secs(10)).await {
            WsNext::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Collects events until one with `event_id == last`, failing after 20 s.
    pub async fn events_through(&mut self, last: i64) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            match self.next_within(Duration::from_secs(20)).await {
                WsNext::Json(v) => {
                    let id = v["event_id"].as_i64().expect("event_id");
                    out.push(v);
                    if id >= last {
                        return out;
                    }
                }
                other => panic!(
                    "expected events through {last}, got {other:?} after {} events",
                    out.len()
                ),
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.inner
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .expect("send");
    }
}

/// Event ids of a list of stream messages.
pub fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["event_id"].as_i64().expect("event_id"))
        .collect()
}

impl TestApp {
    /// Opens `/ws/tasks/` with `Authorization: Bearer <token>` (how non-browser clients
    /// send API tokens, which never go in URLs).
    pub async fn ws_bearer(&self, token: &str) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = self
            .ws_url("/ws/tasks/")
            .into_client_request()
            .expect("ws request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (inner, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws { inner }
    }
}

pub async fn ws_on(p: &Proc, token: &str, since: Option<i64>) -> Ws {
    let ticket = stream_ticket(&reqwest::Client::new(), &p.url(""), token).await;
    let mut url = format!("ws://{}/ws/tasks/?ticket={ticket}", p.addr);
    if let Some(s) = since {
        url.push_str(&format!("&since={s}"));
    }
    let (inner, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    Ws { inner }
}

/// Reads SSE events (`id`, `event`, `data`) until `data` has `event_id >= last`.
pub async fn sse_events_through(
    resp: reqwest::Response,
    last: i64,
) -> Vec<(String, String, Value)> {
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) =
                (String::new(), String::from("message"), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.to_owned();
                }
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_owned();
                }
                if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if data.is_empty() {
                continue; // keep-alive comment
            }
            let v: Value = serde_json::from_str(&data).unwrap();
            let done = v["event_id"].as_i64().unwrap() >= last;
            out.push((id, event, v));
            if done {
                return out;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("sse timed out")
            .expect("sse ended")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}
