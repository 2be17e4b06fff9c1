//! Deleting an account without stalling anyone else's writes.
//!
//! An account is deleted in two stages. [`AccountStore::delete_account`] is one short write: it
//! marks the account deleted (`users.deleted_at`), deactivates it (so none of its tokens
//! works any more), moves its credentials generation on, and replaces its username and
//! email with `deleted:<id>` (no registration can take that name: `:` is not allowed in
//! usernames, nor is an address without `@`). From its commit on, the account cannot log
//! in, refresh, be authenticated or be listed, and its name and email are free for a new
//! registration. The same write ends its part in every project (refused while it owns a
//! project with other members; see [`AccountStore::delete_account`]).
//! [`Store::purge_account`] then deletes what it owned — tokens first, then idempotency
//! keys, events, the tasks of the projects it owned alone, its tasks, and those
//! projects — as a series of short jobs
//! ([`PurgeStore::purge_account_step`]), each deleting a bounded number of rows per statement
//! and stopping at a time budget ([`SQLITE_PACE`], [`POSTGRES_PACE`]); the user row goes
//! last, in a job of its own. Other writes run between the jobs: on SQLite's single
//! writer a write waits for at most one job, however big the account; on PostgreSQL no
//! transaction holds the account's rows for long.
//!
//! A purge cut short (the process stopped, the database went away) is resumed by
//! housekeeping, which purges every account still marked ([`PurgeStore::deleted_accounts`])
//! when it starts and every minute.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

#[cfg(doc)]
use super::users::AccountStore;
use super::{Result, Store};

/// How a backend paces a purge.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Rows one statement deletes at most.
    pub rows: i64,
    /// How long one job keeps deleting before it commits: once it has deleted something,
    /// it starts no statement that would likely end past this (judged by its slowest
    /// statement so far).
    pub budget: Duration,
    /// The pause between two jobs.
    pub pause: Duration,
}

/// SQLite: every other write of the process waits behind the job the writer is running,
/// so jobs are short, and the pause between two lets the writes that queued during one
/// commit in a batch of their own rather than behind the next.
pub const SQLITE_PACE: Pace = Pace {
    rows: 250,
    budget: Duration::from_millis(5),
    pause: Duration::from_millis(1),
};

/// PostgreSQL: a purge transaction holds only the deleted account's rows (no one else's
/// write waits for it), so it can run longer and spend fewer round trips; it stays short
/// enough not to hold back vacuum or write one huge WAL record.
pub const POSTGRES_PACE: Pace = Pace {
    rows: 1000,
    budget: Duration::from_millis(50),
    pause: Duration::ZERO,
};

/// What one purge job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeStep {
    /// Rows deleted.
    pub rows: u64,
    /// Nothing is left: the user row is gone (or the account was never marked deleted).
    pub done: bool,
    /// This job deleted the user row.
    pub removed_user: bool,
}

/// What a whole purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Rows deleted, the user row not counted.
    pub rows: u64,
    /// Jobs (SQLite writer jobs, PostgreSQL transactions) it took.
    pub jobs: u64,
}

/// How long writes can be held up, as measured since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StallStats {
    /// SQLite: the longest job the writer ran (every other write of the process waits
    /// behind the job running). PostgreSQL: the longest purge transaction.
    pub longest_job: Duration,
    /// Purge jobs run.
    pub purge_jobs: u64,
    /// Deleted accounts whose purge finished.
    pub accounts_purged: u64,
    /// PostgreSQL: creates put back in the queue because another transaction held their
    /// owner's row (see `postgres::create_group_commit`).
    pub create_lock_retries: u64,
}

/// Purging deleted accounts, one short job at a time ([`Store::purge_account`] runs the
/// jobs).
#[async_trait]
pub trait PurgeStore: Send + Sync {
    /// The accounts marked deleted and not purged yet, by id.
    async fn deleted_accounts(&self) -> Result<Vec<i64>>;

    /// One job of deleted account `user_id`'s purge: deletes its rows, the backend's
    /// [`PurgeStore::purge_pace`]`.rows` per statement, until none is left or the next
    /// statement would likely end past its `budget` (it takes as long as the slowest one
    /// so far). A job that finds nothing left deletes the user row. An account not marked
    /// deleted is left alone.
    async fn purge_account_step(&self, user_id: i64) -> Result<PurgeStep>;

    /// How this backend paces a purge ([`SQLITE_PACE`], [`POSTGRES_PACE`]).
    fn purge_pace(&self) -> Pace;
}

/// The purges running in this process, and what they did.
#[derive(Default)]
pub(crate) struct Purges {
    running: Mutex<HashSet<i64>>,
    jobs: AtomicU64,
    accounts: AtomicU64,
}

/// An account being purged by this process; forgotten when dropped (also when the purge
/// is cancelled).
struct Claim {
    purges: Arc<Purges>,
    user_id: i64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut running) = self.purges.running.lock() {
            running.remove(&self.user_id);
        }
    }
}

fn claim(purges: &Arc<Purges>, user_id: i64) -> Option<Claim> {
    let mut running = purges.running.lock().ok()?;
    running.insert(user_id).then(|| Claim {
        purges: purges.clone(),
        user_id,
    })
}

impl Store {
    /// Deletes everything deleted account `user_id` owned, then its user row, one short
    /// job at a time. Nothing happens when the account is not marked deleted, or when this
    /// process is already purging it (the other purge finishes the work). Safe to run in
    /// several processes at once: each job deletes what is still there.
    pub async fn purge_account(&self, user_id: i64) -> Result<Purged> {
        let Some(_claim) = claim(&self.purges, user_id) else {
            return Ok(Purged::default());
        };
        let mut purged = Purged::default();
        loop {
            let step = self.purge_account_step(user_id).await?;
            self.purges.jobs.fetch_add(1, Ordering::Relaxed);
            purged.jobs += 1;
            purged.rows += step.rows;
            if step.removed_user {
                self.purges.accounts.fetch_add(1, Ordering::Relaxed);
            }
            if step.done {
                return Ok(purged);
            }
            let pause = self.purge_pace().pause;
            if pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Purges every account still marked deleted (a purge cut short, or one another
    /// process started): how many were purged. One that fails is left for the next call
    /// (and logged); the others are purged all the same.
    pub async fn purge_deleted_accounts(&self) -> Result<usize> {
        let mut purged = 0;
        for id in self.deleted_accounts().await? {
            match self.purge_account(id).await {
                Ok(_) => purged += 1,
                Err(e) => {
                    tracing::warn!(user_id = id, error = %e, "purging a deleted account failed")
                }
            }
        }
        Ok(purged)
    }

    /// How long writes can have been held up, since start.
    pub fn stall_stats(&self) -> StallStats {
        let (longest_job, create_lock_retries) = self.stalls();
        StallStats {
            longest_job,
            purge_jobs: self.purges.jobs.load(Ordering::Relaxed),
            accounts_purged: self.purges.accounts.load(Ordering::Relaxed),
            create_lock_retries,
        }
    }
}

/// The username and email a deleted account holds until its row is purged.
pub(crate) const TOMBSTONE_SQL: &str = "'deleted:' || id";
