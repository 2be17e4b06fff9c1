//! Purging a deleted account (see [`crate::store::purge`]) in writer jobs short enough
//! that the writes queued behind one wait for little.

use async_trait::async_trait;

use std::time::{Duration, Instant};

use rusqlite::params;

use super::Sqlite;
use crate::store::Result;
use crate::store::purge::{Pace, PurgeStep, PurgeStore, SQLITE_PACE};

/// What a deleted account owns, credentials first: each statement deletes up to `?2` of
/// user `?1`'s rows, found through an index on `user_id` (or the primary key's prefix, or
/// `projects_by_owner` then the project's own index).
const PURGES: &[&str] = &[
    "DELETE FROM stream_tickets WHERE ticket_hash IN (
         SELECT ticket_hash FROM stream_tickets WHERE user_id = ?1 LIMIT ?2)",
    "DELETE FROM refresh_tokens WHERE jti IN (
         SELECT jti FROM refresh_tokens WHERE user_id = ?1 LIMIT ?2)",
    "DELETE FROM api_tokens WHERE id IN (
         SELECT id FROM api_tokens WHERE user_id = ?1 LIMIT ?2)",
    "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key IN (
         SELECT key FROM idempotency_keys WHERE user_id = ?1 LIMIT ?2)",
    "DELETE FROM events WHERE user_id = ?1 AND seq IN (
         SELECT seq FROM events WHERE user_id = ?1 ORDER BY seq LIMIT ?2)",
    // Memberships and invitations a write racing the deletion left (the deletion itself
    // removes them all).
    "DELETE FROM project_invitations WHERE id IN (
         SELECT id FROM project_invitations WHERE invitee_id = ?1 LIMIT ?2)",
    "DELETE FROM project_members WHERE user_id = ?1 AND project_id IN (
         SELECT project_id FROM project_members WHERE user_id = ?1 LIMIT ?2)",
    // The projects it owned alone (it could not be deleted owning a shared one): their
    // tasks, whoever created them, and invitations, then the projects.
    "DELETE FROM tasks WHERE id IN (
         SELECT t.id FROM projects p JOIN tasks t ON t.project_id = p.id
         WHERE p.owner_id = ?1 LIMIT ?2)",
    "DELETE FROM project_invitations WHERE id IN (
         SELECT i.id FROM projects p JOIN project_invitations i ON i.project_id = p.id
         WHERE p.owner_id = ?1 LIMIT ?2)",
    "DELETE FROM tasks WHERE id IN (
         SELECT id FROM tasks WHERE user_id = ?1 ORDER BY id LIMIT ?2)",
    "DELETE FROM projects WHERE id IN (
         SELECT id FROM projects WHERE owner_id = ?1 LIMIT ?2)",
];

#[async_trait]
impl PurgeStore for Sqlite {
    fn purge_pace(&self) -> Pace {
        SQLITE_PACE
    }

    async fn deleted_accounts(&self) -> Result<Vec<i64>> {
        self.run(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM users WHERE deleted_at IS NOT NULL ORDER BY id")?;
            let ids = stmt.query_map([], |r| r.get(0))?;
            Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .await
    }

    // One writer job.
    async fn purge_account_step(&self, user_id: i64) -> Result<PurgeStep> {
        self.write(move |tx| {
            let marked: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND deleted_at IS NOT NULL)",
                )?
                .query_row([user_id], |r| r.get(0))?;
            if !marked {
                return Ok(PurgeStep {
                    done: true,
                    ..PurgeStep::default()
                });
            }
            let started = Instant::now();
            let (mut rows, mut slowest) = (0, Duration::ZERO);
            for sql in PURGES {
                loop {
                    // Not one more statement that would likely run past the budget, once
                    // this job has deleted something.
                    if rows > 0 && started.elapsed() + slowest >= SQLITE_PACE.budget {
                        return Ok(PurgeStep {
                            rows,
                            ..PurgeStep::default()
                        });
                    }
                    let at = Instant::now();
                    let n = tx
                        .prepare_cached(sql)?
                        .execute(params![user_id, SQLITE_PACE.rows])?;
                    slowest = slowest.max(at.elapsed());
                    rows += n as u64;
                    if (n as i64) < SQLITE_PACE.rows {
                        break;
                    }
                }
            }
            if rows > 0 {
                // The user row in a job of its own, which finds nothing else to delete.
                return Ok(PurgeStep {
                    rows,
                    ..PurgeStep::default()
                });
            }
            // Its foreign keys' cascade finds nothing left (at most what a request racing
            // the deletion added since the last statement above).
            tx.prepare_cached("DELETE FROM users WHERE id = ?1 AND deleted_at IS NOT NULL")?
                .execute([user_id])?;
            Ok(PurgeStep {
                rows: 0,
                done: true,
                removed_user: true,
            })
        })
        .await
    }
}
