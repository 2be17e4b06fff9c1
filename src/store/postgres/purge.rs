//! Purging a deleted account (see [`crate::store::purge`]) in short transactions, so no
//! transaction holds the account's rows, or writes a big WAL record, for long.
//!
//! The statements lock the rows they delete with `FOR UPDATE SKIP LOCKED`: a purge never
//! waits for a transaction still holding one of the account's rows (one that began
//! before the deletion), it leaves that row for a later statement. The user row is
//! deleted in a transaction that deletes nothing else, so the purge never holds other
//! rows while it waits for the user row's lock (the order every writer keeps: the user
//! row first).

use async_trait::async_trait;

use std::time::{Duration, Instant};

use super::Postgres;
use crate::store::Result;
use crate::store::purge::{POSTGRES_PACE, Pace, PurgeStep, PurgeStore};

/// What a deleted account owns, credentials first: each statement deletes up to `$2` of
/// user `$1`'s rows, found through an index on `user_id` (or the primary key's prefix).
const PURGES: &[&str] = &[
    "DELETE FROM stream_tickets WHERE ticket_hash IN (
         SELECT ticket_hash FROM stream_tickets WHERE user_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM refresh_tokens WHERE jti IN (
         SELECT jti FROM refresh_tokens WHERE user_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM api_tokens WHERE id IN (
         SELECT id FROM api_tokens WHERE user_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM idempotency_keys WHERE user_id = $1 AND key IN (
         SELECT key FROM idempotency_keys WHERE user_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM events WHERE user_id = $1 AND seq IN (
         SELECT seq FROM events WHERE user_id = $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)",
    // Memberships and invitations a write racing the deletion left (the deletion itself
    // removes them all).
    "DELETE FROM project_invitations WHERE id IN (
         SELECT id FROM project_invitations WHERE invitee_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM project_members WHERE user_id = $1 AND project_id IN (
         SELECT project_id FROM project_members WHERE user_id = $1 LIMIT $2
         FOR UPDATE SKIP LOCKED)",
    // The projects it owned alone (it could not be deleted owning a shared one): their
    // tasks, whoever created them, and invitations, then the projects.
    "DELETE FROM tasks WHERE id IN (
         SELECT t.id FROM projects p JOIN tasks t ON t.project_id = p.id
         WHERE p.owner_id = $1 LIMIT $2 FOR UPDATE OF t SKIP LOCKED)",
    "DELETE FROM project_invitations WHERE id IN (
         SELECT i.id FROM projects p JOIN project_invitations i ON i.project_id = p.id
         WHERE p.owner_id = $1 LIMIT $2 FOR UPDATE OF i SKIP LOCKED)",
    "DELETE FROM tasks WHERE id IN (
         SELECT id FROM tasks WHERE user_id = $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM projects WHERE id IN (
         SELECT id FROM projects WHERE owner_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
];

#[async_trait]
impl PurgeStore for Postgres {
    fn purge_pace(&self) -> Pace {
        POSTGRES_PACE
    }

    async fn deleted_accounts(&self) -> Result<Vec<i64>> {
        let c = self.client().await?;
        c.query(
            "SELECT id FROM users WHERE deleted_at IS NOT NULL ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    // One transaction.
    async fn purge_account_step(&self, user_id: i64) -> Result<PurgeStep> {
        let mut c = self.client().await?;
        let started = Instant::now();
        let tx = c.transaction().await?;
        // Each statement takes the next rows through the index on `user_id`: a plan that
        // reads all of the account's rows to sort them (which the planner may pick while
        // the table's statistics are stale) would make each statement cost the account.
        tx.batch_execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off")
            .await?;
        let marked = tx
            .query_opt(
                "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NOT NULL",
                &[&user_id],
            )
            .await?
            .is_some();
        if !marked {
            tx.rollback().await?;
            return Ok(PurgeStep {
                done: true,
                ..PurgeStep::default()
            });
        }
        let (mut rows, mut slowest) = (0, Duration::ZERO);
        let mut step = None;
        'tables: for sql in PURGES {
            let stmt = tx.prepare_cached(sql).await?;
            loop {
                // Not one more statement that would likely run past the budget, once
                // this job has deleted something.
                if rows > 0 && started.elapsed() + slowest >= POSTGRES_PACE.budget {
                    step = Some(PurgeStep {
                        rows,
                        ..PurgeStep::default()
                    });
                    break 'tables;
                }
                let at = Instant::now();
                let n = tx.execute(&stmt, &[&user_id, &POSTGRES_PACE.rows]).await?;
                slowest = slowest.max(at.elapsed());
                rows += n;
                if (n as i64) < POSTGRES_PACE.rows {
                    break;
                }
            }
        }
        let step = match step {
            Some(step) => step,
            // The user row in a transaction of its own, which finds nothing else to
            // delete (the cascade: at most what a write racing the deletion added).
            None if rows > 0 => PurgeStep {
                rows,
                ..PurgeStep::default()
            },
            None => {
                tx.execute(
                    "DELETE FROM users WHERE id = $1 AND deleted_at IS NOT NULL",
                    &[&user_id],
                )
                .await?;
                PurgeStep {
                    rows: 0,
                    done: true,
                    removed_user: true,
                }
            }
        };
        self.commit(tx).await?;
        self.counts.job_took(started.elapsed());
        Ok(step)
    }
}
