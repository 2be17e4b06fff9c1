//! Sweeps in short writer jobs: housekeeping's deletes (old events, idempotency keys,
//! throttle counts, rotated pairs) can find any number of rows, and one job deleting them
//! all would hold every other write of the process behind it. They are paced like an
//! account's purge ([`SQLITE_PACE`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Transaction;

use super::Sqlite;
use crate::store::Result;
use crate::store::purge::SQLITE_PACE;

/// One step of a sweep: deletes (or clears) at most the given number of rows, and says
/// how many it did.
pub(super) type Step = dyn Fn(&Transaction, i64) -> Result<usize> + Send + Sync;

impl Sqlite {
    /// Runs `step` until one does fewer than [`SQLITE_PACE`]`.rows`: several steps per
    /// writer job, until the job's budget, then a pause for the writes that queued. How
    /// many rows the steps did in all.
    pub(super) async fn sweep(&self, step: Arc<Step>) -> Result<usize> {
        let mut total = 0;
        loop {
            let step = step.clone();
            let (rows, done) = self
                .write(move |tx| {
                    let started = Instant::now();
                    let (mut rows, mut slowest) = (0, Duration::ZERO);
                    loop {
                        let at = Instant::now();
                        let n = step(tx, SQLITE_PACE.rows)?;
                        slowest = slowest.max(at.elapsed());
                        rows += n;
                        if (n as i64) < SQLITE_PACE.rows {
                            return Ok((rows, true));
                        }
                        if started.elapsed() + slowest >= SQLITE_PACE.budget {
                            return Ok((rows, false));
                        }
                    }
                })
                .await?;
            total += rows;
            if done {
                return Ok(total);
            }
            tokio::time::sleep(SQLITE_PACE.pause).await;
        }
    }
}
