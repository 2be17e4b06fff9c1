//! Fan-out of committed task events to the streams of their owners.
//!
//! Each user with an open stream has an in-process broadcast channel; an event goes only
//! to its owner's channel. The store's outbox is the source of truth and the hub only
//! rings the doorbell: [`Hub::follow`] replays from the outbox, then follows the channel,
//! and fills any gap from the outbox again. It is the one place the no-gap/no-duplicate
//! rule lives; the WebSocket and SSE handlers only render what it yields.

mod follow;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::model::Event;
use crate::store::Store;

pub use follow::{End, Follower, Item};

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Events a follower may fall behind by before it is cut off as too slow.
    capacity: usize,
    channels: Mutex<HashMap<i64, broadcast::Sender<Arc<Event>>>>,
}

impl Hub {
    pub fn new(store: Store, capacity: usize) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                store,
                capacity: capacity.max(1),
                channels: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Announces a committed event to its owner's streams in this process.
    pub fn publish(&self, event: Event) {
        let channels = self.channels();
        if let Some(tx) = channels.get(&event.user_id) {
            // No receiver left is not an error: the stream just closed.
            let _ = tx.send(Arc::new(event));
        }
    }

    /// How many streams are open in this process.
    pub fn followers(&self) -> usize {
        self.channels().values().map(|tx| tx.receiver_count()).sum()
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<Arc<Event>>>> {
        // A panic while holding this lock leaves the map consistent; keep going.
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn subscribe(&self, user_id: i64) -> Subscription {
        let mut channels = self.channels();
        let rx = channels
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(self.inner.capacity).0)
            .subscribe();
        Subscription {
            hub: self.clone(),
            user_id,
            rx,
        }
    }
}

/// A user's live channel; the last one to go removes the channel.
struct Subscription {
    hub: Hub,
    user_id: i64,
    rx: broadcast::Receiver<Arc<Event>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.channels();
        if let Some(tx) = channels.get(&self.user_id)
            && tx.receiver_count() <= 1
        {
            channels.remove(&self.user_id);
        }
    }
}
