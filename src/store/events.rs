//! The outbox: task events, written with the change they describe, read back by the
//! stream to replay what a client missed, and pruned after the retention window.

/// Where a user's event history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// The last event id handed out (0: none yet).
    pub last: i64,
    /// Events up to this id have been pruned; resuming from before it would miss some.
    pub pruned_through: i64,
}
