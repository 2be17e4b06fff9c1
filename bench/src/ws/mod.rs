//! WebSocket scenarios: fan-out of task events to many subscribers while writes run
//! (delivery latency, loss), many idle authenticated sockets (server memory), and the
//! members of one project hearing its creates (`members`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::User;

pub use fanout::{FanoutPlan, fanout};
pub use idle::idle;
pub use members::{Tally, listen};

mod fanout;
mod idle;
mod members;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long subscribers may take, once writes stop, to receive every event.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Title prefix of the fan-out writes; the rest is the send time in µs since `epoch`.
const TITLE_PREFIX: &str = "bench t=";

/// Opens `/ws/tasks/` with the token in `Authorization` (the server refuses tokens in
/// URLs; browsers use single-use tickets instead, which would add a request per socket),
/// from the events after `since` when given, else live events only.
async fn open(
    addr: SocketAddr,
    token: &str,
    since: Option<i64>,
    config: WebSocketConfig,
) -> anyhow::Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let query = since.map_or_else(String::new, |s| format!("?since={s}"));
    let mut req = format!("ws://{addr}/ws/tasks/{query}").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let connecting = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(e)) => Err(anyhow!(e)),
        Err(_) => Err(anyhow!("websocket connect timed out")),
    }
}

/// Opens `count` sockets, `concurrency` at a time, socket `i` as `users[i % len]`, and hands
/// each to `serve`. Stops trying after `max_failures` failures.
async fn open_many<T: Send + 'static>(
    addr: SocketAddr,
    users: &[User],
    count: usize,
    concurrency: usize,
    config: WebSocketConfig,
    serve: impl Fn(usize, Socket) -> JoinHandle<T>,
) -> (Vec<(usize, JoinHandle<T>)>, Failures) {
    let failures = Failures::default();
    let max_failures = 200;
    let mut opened = futures_util::stream::iter(0..count)
        .map(|i| {
            let user = &users[i % users.len()];
            let failures = &failures;
            async move {
                if failures.count.load(Ordering::Relaxed) >= max_failures {
                    return (i, None);
                }
                match open(addr, &user.token, None, config).await {
                    Ok(socket) => (i, Some(socket)),
                    Err(e) => {
                        failures.note(format!("{e:#}"));
                        (i, None)
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut handles = Vec::with_capacity(count);
    while let Some((i, socket)) = opened.next().await {
        if let Some(socket) = socket {
            handles.push((i, serve(i, socket)));
        }
    }
    drop(opened);
    (handles, failures)
}

#[derive(Default)]
pub struct Failures {
    pub count: AtomicUsize,
    pub first: std::sync::Mutex<Option<String>>,
}

impl Failures {
    fn note(&self, e: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first.lock() {
            first.get_or_insert(e);
        }
    }

    pub fn first(&self) -> Option<String> {
        self.first.lock().ok().and_then(|f| f.clone())
    }
}
