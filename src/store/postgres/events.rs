//! The outbox: task events, written with the change they describe ([`super::tasks`]),
//! read back by the stream to replay what a client missed, and pruned after the
//! retention window.

use super::{PRUNE_LOCK, Postgres};
use crate::model::{Action, Event};
use crate::store::events::EventCursor;
use crate::store::{Result, StoreError};

impl Postgres {
    /// The user's events with id greater than `since`, oldest first: at most `limit`, and
    /// no more once their JSON adds up to `max_bytes` (but always at least one).
    ///
    /// The server already leaves out the events that start past `max_bytes` (a running
    /// sum of the tasks' sizes, which it reads without fetching them), so a replay of
    /// large events costs about `max_bytes`, not `limit` of them; the exact cut, on the
    /// events' own JSON, is made here, as SQLite's does.
    pub async fn events_after(
        &self,
        user_id: i64,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<Event>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT seq, action, task, at FROM (
                     SELECT seq, action, task, at,
                            sum(octet_length(task)) OVER (ORDER BY seq) - octet_length(task)
                                AS before
                     FROM events WHERE user_id = $1 AND seq > $2
                     ORDER BY seq LIMIT $3
                 ) e
                 WHERE before < $4 ORDER BY seq",
            )
            .await?;
        let max = i64::try_from(max_bytes).unwrap_or(i64::MAX).max(1);
        let rows = c
            .query(&stmt, &[&user_id, &since, &i64::from(limit), &max])
            .await?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let action = Action::parse(r.try_get(1)?)
                .ok_or_else(|| StoreError::Other(format!("bad action in event {seq}")))?;
            let event = Event::new(seq, user_id, action, r.try_get(2)?, r.try_get(3)?);
            bytes += event.json.len();
            out.push(event);
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    pub async fn event_cursor(&self, user_id: i64) -> Result<EventCursor> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT event_seq, events_pruned_through FROM users WHERE id = $1")
            .await?;
        let r = c
            .query_opt(&stmt, &[&user_id])
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(EventCursor {
            last: r.try_get(0)?,
            pruned_through: r.try_get(1)?,
        })
    }

    /// Deletes events older than `cutoff` (an API timestamp), remembering per user how far
    /// the history was cut so that a stale `since` gets a reset, never a silent gap.
    ///
    /// One pruner at a time across hosts (an advisory lock; a sweep that finds another
    /// running does nothing); it locks the users concerned
    /// in id order before touching their events (the order every writer keeps), then
    /// deletes those users' old events and records the cut in one statement, so both see
    /// the same rows. (Another user's events that turn old meanwhile wait for the next
    /// sweep.)
    pub async fn prune_events(&self, cutoff: String) -> Result<usize> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Another host pruning: this sweep has nothing to do.
        let alone: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
            .await?
            .try_get(0)?;
        if !alone {
            tx.rollback().await?;
            return Ok(0);
        }
        let users = tx
            .query(
                "SELECT id FROM users
                 WHERE id IN (SELECT DISTINCT user_id FROM events WHERE at < $1)
                 ORDER BY id FOR NO KEY UPDATE",
                &[&cutoff],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        if users.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let deleted: i64 = tx
            .query_one(
                "WITH gone AS (DELETE FROM events WHERE at < $1 AND user_id = ANY($2)
                               RETURNING user_id, seq),
                      cut AS (UPDATE users u
                              SET events_pruned_through = greatest(u.events_pruned_through, g.last)
                              FROM (SELECT user_id, max(seq) AS last FROM gone GROUP BY user_id) g
                              WHERE u.id = g.user_id)
                 SELECT count(*) FROM gone",
                &[&cutoff, &users],
            )
            .await?
            .try_get(0)?;
        self.commit(tx).await?;
        Ok(usize::try_from(deleted).unwrap_or(0))
    }
}
