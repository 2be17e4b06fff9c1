//! What the health check and the metrics read of the database: whether it answers, which
//! backend it is, and the counters its backend keeps.

use std::time::Duration;

use async_trait::async_trait;

use super::Result;

/// The database's health and counters.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// `SELECT 1`: the health check.
    async fn ping(&self) -> Result<()>;

    /// Which database is behind the store: `"sqlite"` or `"postgres"`.
    fn backend_name(&self) -> &'static str;

    /// Transactions committed by this process, and the writes they carried (SQLite
    /// groups several writes per commit; on PostgreSQL only task creates do).
    fn write_stats(&self) -> (u64, u64);

    /// Connections in the pool, and how many of them are idle.
    fn pool_state(&self) -> (u32, u32);

    /// The longest job (SQLite: on the writer, which every other write of the process
    /// waits behind; PostgreSQL: a purge transaction), and the creates retried because
    /// their owner's row was locked (PostgreSQL; always 0 on SQLite). Read through
    /// [`super::Store::stall_stats`].
    fn stalls(&self) -> (Duration, u64);
}
