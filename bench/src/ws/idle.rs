//! The idle scenario: many authenticated WebSockets held open and idle, for the server's
//! memory per socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::api::User;

use super::{Failures, open_many};

// ---------------------------------------------------------------------------------------
// Idle sockets

/// Sockets held open, each drained by a task (so the server's pings get their pongs).
pub struct IdleSockets {
    tasks: Vec<JoinHandle<()>>,
    pub failures: Failures,
    pub connect_time: Duration,
    /// Sockets that ended while held.
    pub dropped: Arc<AtomicUsize>,
}

impl IdleSockets {
    pub fn held(&self) -> usize {
        self.tasks.len() - self.dropped.load(Ordering::Relaxed)
    }

    /// Closes every socket (dropping it closes its TCP connection).
    pub async fn close(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

pub async fn idle(
    addr: SocketAddr,
    users: &[User],
    count: usize,
    concurrency: usize,
) -> IdleSockets {
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    // Small buffers: these sockets never carry anything but pings.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (handles, failures) = {
        let dropped = dropped.clone();
        open_many(
            addr,
            users,
            count,
            concurrency,
            config,
            move |_, mut socket| {
                let dropped = dropped.clone();
                tokio::spawn(async move {
                    while let Some(Ok(_)) = socket.next().await {}
                    dropped.fetch_add(1, Ordering::Relaxed);
                })
            },
        )
        .await
    };
    IdleSockets {
        tasks: handles.into_iter().map(|(_, h)| h).collect(),
        failures,
        connect_time: started.elapsed(),
        dropped,
    }
}
