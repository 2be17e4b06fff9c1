//! Login and registration throttles, counted in the database so that every process on it
//! (every host, with PostgreSQL) counts the same attempts. One row per counted attempt:
//! `(scope, key, at)`, the key a 16-byte digest so the table's size does not depend on
//! what clients send.

use async_trait::async_trait;

use super::Result;

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

/// Throttle counts.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one attempt of `key` in `scope` unless `max` are already counted in the
    /// last `window` seconds: the check and the count are one atomic step across every
    /// process on the database.
    async fn throttle_acquire(
        &self,
        scope: &'static str,
        key: Vec<u8>,
        max: u32,
        window: f64,
        now: f64,
    ) -> Result<Counted>;

    /// Takes back the attempt counted at `at` (one row, if it is still there).
    async fn throttle_refund(&self, scope: &'static str, key: Vec<u8>, at: f64) -> Result<()>;

    /// Forgets every attempt of `key` in `scope`.
    async fn throttle_clear(&self, scope: &'static str, key: Vec<u8>) -> Result<()>;

    /// Deletes the counts at or before `before`, then, past `keep` rows (an attack from
    /// very many addresses), the oldest: in short transactions.
    async fn prune_throttles(&self, before: f64, keep: u64) -> Result<usize>;
}
