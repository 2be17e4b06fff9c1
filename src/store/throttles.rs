//! Login and registration throttles, counted in the database so that every process on it
//! (every host, with PostgreSQL) counts the same attempts. One row per counted attempt:
//! `(scope, key, at)`, the key a 16-byte digest so the table's size does not depend on
//! what clients send.

/// What counting one attempt found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Counted {
    /// The attempt may go ahead and is now counted, at this instant (unix seconds; give it
    /// back to refund the attempt).
    Allowed(f64),
    /// `max` attempts are already counted inside the window: retry after this many
    /// seconds. Nothing was counted.
    Over { retry_after: u64 },
}

/// Seconds until the oldest counted attempt leaves the window, rounded up (at least 1).
pub(crate) fn retry_after(oldest: f64, window: f64, now: f64) -> u64 {
    (oldest + window - now).max(0.0) as u64 + 1
}
