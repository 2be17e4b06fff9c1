//! One user's stream: replay from the outbox, then live events, with no gap and no
//! duplicate.
//!
//! Event ids are 1, 2, 3… per user, assigned in commit order, so the follower always
//! knows the next id it should see. The live channel is subscribed *before* the outbox
//! is read, so nothing committed in between is missed; anything at or below the cursor is
//! a duplicate and dropped; anything beyond cursor+1 means events are missing (published
//! out of order) and they are read from the outbox.
//!
//! The cursor moves only over events this process has read from its own outbox or
//! committed itself. Hints and pokes (events committed by another process, or Redis having
//! been away) never carry an event: they only raise `replay_until`, how far the outbox
//! should be read, and a follower already past a hint ignores it without reading. A hint
//! naming events that do not exist costs one read that finds nothing, and changes nothing.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::{ChannelSignal, Hub, Subscription};
use crate::model::Event;
use crate::store::StoreError;
use crate::store::events::EventCursor;

/// Outbox rows read per query while replaying: at most this many, and no more rows
/// once they add up to `REPLAY_BYTES` (events may be large; a stream whose client stops
/// reading holds one batch).
const REPLAY_BATCH: u32 = 500;
const REPLAY_BYTES: usize = 256 << 10;

/// What a stream sends: the one stream message, whatever carries it (WebSocket, SSE,
/// `/api/changes/`).
#[derive(Debug, Clone)]
pub enum Item {
    /// A task change.
    Event(Arc<Event>),
    /// The requested `since` is older than the kept history (or unknown): the client must
    /// re-list its tasks; events continue after `event_id`.
    Reset { event_id: i64 },
}

/// Why a stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum End {
    /// The client fell too far behind the live channel; it can resume with `since`.
    #[error("client too slow")]
    Lagged,
    /// The outbox could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
}

pub struct Follower {
    hub: Hub,
    sub: Subscription,
    /// The last event id delivered (or skipped over by a reset).
    cursor: i64,
    /// Read the outbox until the cursor reaches this id, or the outbox has nothing more.
    replay_until: i64,
    pending: VecDeque<Item>,
    /// The live channel lagged while [`Follower::try_next`] read it: the next call to
    /// [`Follower::next`] ends the stream.
    lagged: bool,
}

impl Item {
    /// The message as sent: `{"event_id": 42, "action": "create", "task": {…}, "at": "…"}`
    /// (already serialised when the event was written or read), or
    /// `{"event_id": N, "action": "reset"}`.
    pub fn json(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Item::Event(e) => std::borrow::Cow::Borrowed(&e.json),
            Item::Reset { event_id } => {
                std::borrow::Cow::Owned(format!(r#"{{"event_id":{event_id},"action":"reset"}}"#))
            }
        }
    }

    /// The message's event id (`Last-Event-ID` on SSE).
    pub fn event_id(&self) -> i64 {
        match self {
            Item::Event(e) => e.id,
            Item::Reset { event_id } => *event_id,
        }
    }
}

/// The reset rule, for every way of resuming: a `since` before the kept history, after
/// the last event, or negative names no point the outbox can resume from.
pub fn can_resume(since: i64, at: &EventCursor) -> bool {
    since >= 0 && since >= at.pruned_through && since <= at.last
}

/// A page of the outbox for `/api/changes/`: the events after `since` (at most `limit`
/// and about `max_bytes`), or a single reset; `cursor` is where the next page starts.
#[derive(Debug)]
pub struct OutboxPage {
    pub items: Vec<Item>,
    pub cursor: i64,
    pub more: bool,
}

impl Hub {
    /// One page of `user_id`'s events after `since`, under the same reset rule as a
    /// stream.
    pub async fn page(
        &self,
        user_id: i64,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<OutboxPage, StoreError> {
        let store = &self.inner.store;
        let at = store.event_cursor(user_id).await?;
        if !can_resume(since, &at) {
            return Ok(OutboxPage {
                items: vec![Item::Reset { event_id: at.last }],
                cursor: at.last,
                more: false,
            });
        }
        let events = store.events_after(user_id, since, limit, max_bytes).await?;
        let cursor = events.last().map_or(since, |e| e.id);
        Ok(OutboxPage {
            items: events
                .into_iter()
                .map(|e| Item::Event(Arc::new(e)))
                .collect(),
            cursor,
            more: cursor < at.last,
        })
    }
}

impl Hub {
    /// Follows `user_id`'s events: those after `since` first (when given), then live ones.
    pub async fn follow(&self, user_id: i64, since: Option<i64>) -> Result<Follower, End> {
        let sub = self.subscribe(user_id);
        let at = self.inner.store.event_cursor(user_id).await?;
        let mut follower = Follower {
            hub: self.clone(),
            sub,
            cursor: at.last,
            replay_until: at.last,
            pending: VecDeque::new(),
            lagged: false,
        };
        match since {
            None => {}
            Some(s) if !can_resume(s, &at) => {
                follower
                    .pending
                    .push_back(Item::Reset { event_id: at.last });
            }
            Some(s) => follower.cursor = s,
        }
        Ok(follower)
    }
}

impl Follower {
    /// The last event id delivered: what a client resumes from.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// The next item, waiting for one if needed.
    pub async fn next(&mut self) -> Result<Item, End> {
        if self.lagged {
            return Err(End::Lagged);
        }
        loop {
            if let Some(item) = self.pending.pop_front() {
                if let Item::Event(e) = &item {
                    self.cursor = e.id;
                }
                return Ok(item);
            }
            if self.cursor < self.replay_until {
                self.fill_from_outbox().await?;
                if self.pending.is_empty() {
                    // Nothing more in the outbox (pruned meanwhile, or a hint named events
                    // that don't exist): go live, the cursor where it is.
                    self.replay_until = self.cursor;
                }
                continue;
            }
            match self.sub.rx.recv().await {
                // Doorbells: another process committed through `upto`; or anything
                // committed elsewhere may have missed us (Redis was away). Read on.
                Ok(ChannelSignal::Hint { upto }) => self.replay_until = self.replay_until.max(upto),
                Ok(ChannelSignal::Poke) => {
                    self.replay_until = self.replay_until.max(self.cursor + 1)
                }
                // Committed by this process: the event itself is in the channel's memory
                // (the note carries only its id, so a stalled stream pins little).
                Ok(ChannelSignal::Event(id)) if id <= self.cursor => continue,
                Ok(ChannelSignal::Event(id)) => {
                    if id == self.cursor + 1
                        && let Some(e) = self.hub.inner.recent(self.sub.user_id, id)
                    {
                        self.cursor = id;
                        return Ok(Item::Event(e));
                    }
                    // A gap (published out of order), or an event no longer kept in
                    // memory: they are committed, so the outbox has them.
                    self.replay_until = id;
                    self.fill_from_outbox().await?;
                    if self.pending.is_empty() {
                        // Pruned meanwhile: go on from this event if memory has it.
                        if let Some(e) = self.hub.inner.recent(self.sub.user_id, id) {
                            self.cursor = id;
                            return Ok(Item::Event(e));
                        }
                        self.replay_until = self.cursor;
                    }
                }
                Err(RecvError::Lagged(_)) => return Err(End::Lagged),
                Err(RecvError::Closed) => return Err(End::Lagged),
            }
        }
    }

    /// The next item if it is at hand without waiting or reading the outbox: what a
    /// stream sends with the one before it, in one write. `None` leaves everything for
    /// [`Follower::next`], which then waits or reads as it must.
    pub fn try_next(&mut self) -> Option<Item> {
        use tokio::sync::broadcast::error::TryRecvError;
        loop {
            if let Some(item) = self.pending.pop_front() {
                if let Item::Event(e) = &item {
                    self.cursor = e.id;
                }
                return Some(item);
            }
            if self.cursor < self.replay_until || self.lagged {
                return None;
            }
            match self.sub.rx.try_recv() {
                Ok(ChannelSignal::Hint { upto }) => self.replay_until = self.replay_until.max(upto),
                Ok(ChannelSignal::Poke) => {
                    self.replay_until = self.replay_until.max(self.cursor + 1)
                }
                Ok(ChannelSignal::Event(id)) if id <= self.cursor => {}
                Ok(ChannelSignal::Event(id)) => {
                    if id == self.cursor + 1
                        && let Some(e) = self.hub.inner.recent(self.sub.user_id, id)
                    {
                        self.cursor = id;
                        return Some(Item::Event(e));
                    }
                    // A gap, or gone from memory: `next` reads the outbox.
                    self.replay_until = id;
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => {
                    self.lagged = true;
                    return None;
                }
            }
        }
    }

    async fn fill_from_outbox(&mut self) -> Result<(), End> {
        let events = self
            .hub
            .inner
            .store
            .events_after(self.sub.user_id, self.cursor, REPLAY_BATCH, REPLAY_BYTES)
            .await?;
        self.pending
            .extend(events.into_iter().map(|e| Item::Event(Arc::new(e))));
        Ok(())
    }
}
