//! The outbox: task events, written with the change they describe ([`super::tasks`]),
//! read back by the stream to replay what a client missed, and pruned after the
//! retention window.

use async_trait::async_trait;

use super::{PRUNE_LOCK, Postgres};
use crate::model::{Action, Event};
use crate::store::events::{EventCursor, EventStore};
use crate::store::purge::POSTGRES_PACE;
use crate::store::{Result, StoreError};

#[async_trait]
impl EventStore for Postgres {
    // The server already leaves out the events that start past `max_bytes` (a running
    // sum of the tasks' sizes, which it reads without fetching them), so a replay of
    // large events costs about `max_bytes`, not `limit` of them; the exact cut, on the
    // events' own JSON, is made here, as SQLite's does.
    async fn events_after(
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

    async fn event_cursor(&self, user_id: i64) -> Result<EventCursor> {
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

    // One pruner at a time across hosts (an advisory lock; a sweep that finds another
    // running does nothing). It goes oldest first, in short transactions of at most
    // [`POSTGRES_PACE`]`.rows` events each: each locks the rows of the users concerned in
    // id order before touching their events (the order every writer keeps), skipping a
    // user another transaction holds (their events wait for the next sweep, and no
    // user's writes wait for the pruner long), then deletes those users' events and
    // records the cut in one statement, so both see the same rows.
    async fn prune_events(&self, cutoff: String) -> Result<usize> {
        let mut c = self.client().await?;
        let mut total = 0;
        loop {
            let tx = c.transaction().await?;
            let alone: bool = tx
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
                .await?
                .try_get(0)?;
            if !alone {
                tx.rollback().await?;
                return Ok(total);
            }
            let oldest = tx
                .query(
                    "SELECT user_id, seq FROM events WHERE at < $1 ORDER BY at LIMIT $2",
                    &[&cutoff, &POSTGRES_PACE.rows],
                )
                .await?;
            let (mut users, mut seqs) = (Vec::new(), Vec::new());
            for r in &oldest {
                users.push(r.try_get::<_, i64>(0)?);
                seqs.push(r.try_get::<_, i64>(1)?);
            }
            let mut ids = users.clone();
            ids.sort_unstable();
            ids.dedup();
            let locked = tx
                .query(
                    "SELECT id FROM users WHERE id = ANY($1) ORDER BY id
                     FOR NO KEY UPDATE SKIP LOCKED",
                    &[&ids],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<Vec<i64>, _>>()?;
            let deleted: i64 = if locked.is_empty() {
                0
            } else {
                tx.query_one(
                    "WITH gone AS (DELETE FROM events e
                                   USING unnest($1::bigint[], $2::bigint[]) AS o(user_id, seq)
                                   WHERE e.user_id = o.user_id AND e.seq = o.seq
                                     AND e.user_id = ANY($3)
                                   RETURNING e.user_id, e.seq),
                          cut AS (UPDATE users u
                                  SET events_pruned_through = greatest(u.events_pruned_through, g.last)
                                  FROM (SELECT user_id, max(seq) AS last FROM gone GROUP BY user_id) g
                                  WHERE u.id = g.user_id)
                     SELECT count(*) FROM gone",
                    &[&users, &seqs, &locked],
                )
                .await?
                .try_get(0)?
            };
            self.commit(tx).await?;
            total += usize::try_from(deleted).unwrap_or(0);
            // Done, or the rest belongs to users busy now: the next sweep.
            if (oldest.len() as i64) < POSTGRES_PACE.rows || deleted == 0 {
                return Ok(total);
            }
        }
    }
}
