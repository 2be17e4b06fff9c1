//! Fan-out of committed task events to the streams of their owners.
//!
//! Each user with an open stream has an in-process broadcast channel; a signal goes only
//! to its owner's channel. The store's outbox is the source of truth and the hub only
//! rings the doorbell: [`Hub::follow`] replays from the outbox, then follows the channel,
//! and fills any gap from the outbox again. It is the one place the no-gap/no-duplicate
//! rule lives; the WebSocket and SSE handlers only render what it yields.
//!
//! Only two things put an event on a channel: this process's own commit
//! ([`Hub::publish`]) and a follower reading the outbox. With Redis configured, a
//! [`redis::Bridge`] tells the other processes sharing the database that a user has new
//! events, as a hint (database, user, event id) and never as the event itself; a hint
//! becomes [`Signal::Hint`] on that user's channel, if one is open here, and a follower
//! behind it reads its own database. Nothing outside this module knows whether Redis is
//! there.

mod follow;
pub mod redis;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::model::Event;
use crate::store::Store;

pub use follow::{End, Follower, Item, OutboxPage, can_resume};

/// What the hub is handed to fan out.
#[derive(Debug, Clone)]
enum Signal {
    /// An event committed by this process (never one that came from outside it).
    Event(Arc<Event>),
    /// Another process says the user's events through `upto` are committed: a follower
    /// behind that reads the outbox. Only a doorbell: a hint never moves a cursor, and one
    /// naming events that do not exist costs one read that finds nothing.
    Hint { upto: i64 },
}

/// What travels on a user's channel: an event's id, never the event itself, so that a
/// stream whose client stopped reading pins a few bytes per event it is behind, not the
/// events (which may be large). Followers take the event from the channel's `recent`
/// events, or from the outbox when it is no longer there.
#[derive(Debug, Clone, Copy)]
enum ChannelSignal {
    Event(i64),
    Hint {
        upto: i64,
    },
    /// "Look in the outbox": events may have been committed that never reached this
    /// process (Redis was down), so followers check for anything after their cursor.
    Poke,
}

/// The most bytes of events each user's channel keeps in memory for its followers
/// (always at least the newest event). A follower further behind reads from the outbox.
const RECENT_BYTES: usize = 1 << 20;

/// A user's live channel.
struct Channel {
    tx: broadcast::Sender<ChannelSignal>,
    /// The latest events published to this channel, oldest first: at most `capacity`
    /// of them and `RECENT_BYTES` bytes (but always the newest).
    recent: VecDeque<Arc<Event>>,
    recent_bytes: usize,
}

impl Channel {
    fn remember(&mut self, event: Arc<Event>, capacity: usize) {
        self.recent_bytes += event.json.len();
        self.recent.push_back(event);
        while self.recent.len() > 1
            && (self.recent.len() > capacity || self.recent_bytes > RECENT_BYTES)
        {
            if let Some(old) = self.recent.pop_front() {
                self.recent_bytes -= old.json.len();
            }
        }
    }

    /// Event `id`, if still kept (usually the newest, so search from the back).
    fn recent(&self, id: i64) -> Option<Arc<Event>> {
        self.recent.iter().rev().find(|e| e.id == id).cloned()
    }
}

type Channels = HashMap<i64, Channel>;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Events a follower may fall behind by before it is cut off as too slow.
    capacity: usize,
    channels: Mutex<Channels>,
    bridge: Option<redis::Bridge>,
    published: prometheus::IntCounter,
    /// Told when an account changed in a way that may end its credentials (here or, by a
    /// hint, in another process): the state forgets the cached account.
    on_account_change: std::sync::OnceLock<AccountHook>,
}

type AccountHook = Box<dyn Fn(i64) + Send + Sync>;

/// How the hub reaches other processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fanout {
    /// Single-node: in-process only.
    Local,
    /// Through Redis: connected, or degraded (reconnecting; streams poll the outbox).
    Redis { connected: bool },
}

impl Hub {
    /// A hub; with `redis` (URL, channel prefix, database identity and hint key) it
    /// rings the other processes on the same database through Redis.
    pub fn new(
        store: Store,
        capacity: usize,
        redis: Option<redis::Config>,
        published: prometheus::IntCounter,
    ) -> Result<Hub, ::redis::RedisError> {
        let (bridge, starter) = match redis {
            Some(config) => {
                let (bridge, starter) = redis::Bridge::new(config)?;
                (Some(bridge), Some(starter))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            store,
            capacity: capacity.max(1),
            channels: Mutex::new(HashMap::new()),
            bridge,
            published,
            on_account_change: std::sync::OnceLock::new(),
        });
        // Only now: the bridge's tasks hold the hub weakly, and stop when it is gone. Started
        // inside `Arc::new_cyclic` they could find it not built yet and stop at once, leaving
        // the process without a subscription while it reported Redis "ok" (the
        // `redis_going_away…` and `nothing_published…` flakes).
        if let Some(starter) = starter {
            starter.start(Arc::downgrade(&inner));
        }
        Ok(Hub { inner })
    }

    /// Announces an event this process has just committed to its owner's streams here,
    /// and (with Redis) rings the other processes on the same database.
    pub fn publish(&self, event: Event) {
        self.inner.published.inc();
        let (user_id, event_id) = (event.user_id, event.id);
        self.inner.deliver(user_id, Signal::Event(Arc::new(event)));
        if let Some(bridge) = &self.inner.bridge {
            bridge.publish(user_id, event_id);
        }
    }

    /// How events reach other processes, for `/healthz`.
    pub fn fanout(&self) -> Fanout {
        match &self.inner.bridge {
            None => Fanout::Local,
            Some(b) => Fanout::Redis {
                connected: b.is_connected(),
            },
        }
    }

    /// How many streams are open in this process.
    pub fn followers(&self) -> usize {
        self.inner
            .channels()
            .values()
            .map(|ch| ch.tx.receiver_count())
            .sum()
    }

    fn subscribe(&self, user_id: i64) -> Subscription {
        let mut channels = self.inner.channels();
        let rx = channels
            .entry(user_id)
            .or_insert_with(|| Channel {
                tx: broadcast::channel(self.inner.capacity).0,
                recent: VecDeque::new(),
                recent_bytes: 0,
            })
            .tx
            .subscribe();
        Subscription {
            hub: self.clone(),
            user_id,
            rx,
        }
    }
}

impl Hub {
    /// What to do when an account changed (set once, when the state is built).
    pub fn on_account_change(&self, hook: impl Fn(i64) + Send + Sync + 'static) {
        let _ = self.inner.on_account_change.set(Box::new(hook));
    }

    /// Account `user_id` changed its password, was deactivated or deleted: this process
    /// and (with Redis) every other forgets what it cached of it, so its credentials and
    /// streams are checked against the database again within a second.
    pub fn account_changed(&self, user_id: i64) {
        self.inner.account_changed(user_id);
        if let Some(bridge) = &self.inner.bridge {
            bridge.publish(user_id, redis::ACCOUNT_CHANGED);
        }
    }
}

impl Inner {
    fn account_changed(&self, user_id: i64) {
        if let Some(hook) = self.on_account_change.get() {
            hook(user_id);
        }
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, Channels> {
        // A panic while holding this lock leaves the map consistent; keep going.
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands a signal to `user_id`'s streams in this process, if it has any: without, it
    /// costs one map lookup.
    fn deliver(&self, user_id: i64, signal: Signal) {
        let mut channels = self.channels();
        let Some(ch) = channels.get_mut(&user_id) else {
            return;
        };
        let note = match signal {
            Signal::Event(e) => {
                let id = e.id;
                ch.remember(e, self.capacity);
                ChannelSignal::Event(id)
            }
            Signal::Hint { upto } => ChannelSignal::Hint { upto },
        };
        // No receiver left is not an error: the stream just closed.
        let _ = ch.tx.send(note);
    }

    /// `user_id`'s event `id`, if its channel still keeps it in memory.
    fn recent(&self, user_id: i64, id: i64) -> Option<Arc<Event>> {
        self.channels().get(&user_id)?.recent(id)
    }

    /// Pokes every stream of this process.
    fn poke_all(&self) {
        for ch in self.channels().values() {
            let _ = ch.tx.send(ChannelSignal::Poke);
        }
    }
}

/// A user's live channel; the last one to go removes the channel.
struct Subscription {
    hub: Hub,
    user_id: i64,
    rx: broadcast::Receiver<ChannelSignal>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.inner.channels();
        if let Some(ch) = channels.get(&self.user_id)
            && ch.tx.receiver_count() <= 1
        {
            channels.remove(&self.user_id);
        }
    }
}
