//! The outbox: task events, written with the change they describe, read back by the
//! stream to replay what a client missed, and pruned after the retention window.

use async_trait::async_trait;

use super::Result;
use crate::model::Event;

/// Where a user's event history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// The last event id handed out (0: none yet).
    pub last: i64,
    /// Events up to this id have been pruned; resuming from before it would miss some.
    pub pruned_through: i64,
}

/// The outbox, read and pruned (tasks write it: [`super::tasks::TaskStore`]).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// The user's events with id greater than `since`, oldest first: at most `limit`, and
    /// no more once their JSON adds up to `max_bytes` (but always at least one).
    async fn events_after(
        &self,
        user_id: i64,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<Event>>;

    /// Where the user's event history stands.
    async fn event_cursor(&self, user_id: i64) -> Result<EventCursor>;

    /// Deletes events older than `cutoff` (an API timestamp), remembering per user how far
    /// the history was cut so that a stale `since` gets a reset, never a silent gap. In
    /// short transactions, oldest first.
    async fn prune_events(&self, cutoff: String) -> Result<usize>;
}
