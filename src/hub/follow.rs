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

use super::{Hub, Note, Subscription};
use crate::model::Event;
use crate::store::StoreError;

/// Outbox rows read per query while replaying: at most this many, and no more rows
/// once they add up to `REPLAY_BYTES` (events may be large; a stream whose client stops
/// reading holds one batch).
const REPLAY_BATCH: u32 = 500;
const REPLAY_BYTES: usize = 256 << 10;

/// What a stream sends.
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
        };
        match since {
            None => {}
            Some(s) if s < at.pruned_through || s > at.last || s < 0 => {
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
                Ok(Note::Hint { upto }) => self.replay_until = self.replay_until.max(upto),
                Ok(Note::Poke) => self.replay_until = self.replay_until.max(self.cursor + 1),
                // Committed by this process: the event itself is in the channel's memory
                // (the note carries only its id, so a stalled stream pins little).
                Ok(Note::Event(id)) if id <= self.cursor => continue,
                Ok(Note::Event(id)) => {
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
