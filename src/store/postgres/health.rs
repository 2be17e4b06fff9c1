//! The health check and the pool's counters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;

use super::Postgres;
use crate::store::Result;
use crate::store::health::HealthStore;

#[async_trait]
impl HealthStore for Postgres {
    async fn ping(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    // One write each, except task creates, which group-commit ([`super::create_group_commit`],
    // [`super::project_create_group_commit`]).
    fn write_stats(&self) -> (u64, u64) {
        (
            self.counts.commits.load(Ordering::Relaxed),
            self.counts.writes.load(Ordering::Relaxed),
        )
    }

    fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.status();
        (
            u32::try_from(s.size).unwrap_or(u32::MAX),
            u32::try_from(s.available).unwrap_or(u32::MAX),
        )
    }

    // The longest purge transaction, and the creates put back in the queue because their
    // owner's row was locked ([`super::create_group_commit`]).
    fn stalls(&self) -> (Duration, u64) {
        (
            Duration::from_micros(self.counts.longest_job_us.load(Ordering::Relaxed)),
            self.counts.lock_retries.load(Ordering::Relaxed),
        )
    }
}
