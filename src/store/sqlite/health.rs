//! The health check and the writer's counters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use super::Sqlite;
use crate::store::Result;
use crate::store::health::HealthStore;

#[async_trait]
impl HealthStore for Sqlite {
    async fn ping(&self) -> Result<()> {
        self.run(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    // The writer's transactions, and the writes they carried.
    fn write_stats(&self) -> (u64, u64) {
        let s = self.writer.stats();
        (
            s.commits.load(Ordering::Relaxed),
            s.writes.load(Ordering::Relaxed),
        )
    }

    fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    // The longest job the writer has run since start; no create is ever retried.
    fn stalls(&self) -> (Duration, u64) {
        let longest = self.writer.stats().longest_job_us.load(Ordering::Relaxed);
        (Duration::from_micros(longest), 0)
    }
}
