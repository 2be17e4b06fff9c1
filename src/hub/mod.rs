//! Fan-out of committed task events to the streams of their owners.
//!
//! Always an in-process broadcast channel; the store's outbox is the source of truth,
//! the hub only rings the doorbell.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::Event;

/// How many events the in-process channel holds for a lagging receiver.
const CHANNEL_CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct Hub {
    local: broadcast::Sender<Arc<Event>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (local, _) = broadcast::channel(CHANNEL_CAPACITY);
        Hub { local }
    }

    /// Announces a committed event to this process's streams.
    pub fn publish(&self, event: Event) {
        // No receiver is not an error: nobody is listening right now.
        let _ = self.local.send(Arc::new(event));
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }
}
