//! The outbox: task events, written with the change they describe, read back by the
//! stream to replay what a client missed, and pruned after the retention window.

use async_trait::async_trait;

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::Sqlite;
use crate::clock::now_timestamp;
use crate::model::{Action, Event};
use crate::store::events::{EventCursor, EventStore};
use crate::store::{Result, StoreError};

/// Appends an event for `user` (its payload `json`, about task or project `subject`)
/// inside the caller's transaction, under the user's next event id; `None` for an
/// account being purged (it takes no more events).
pub(super) fn event_for(
    c: &Connection,
    user: i64,
    action: Action,
    subject: i64,
    json: &str,
) -> Result<Option<Event>> {
    let at = now_timestamp();
    let seq: Option<i64> = c
        .prepare_cached(
            "UPDATE users SET event_seq = event_seq + 1 WHERE id = ?1 AND deleted_at IS NULL
             RETURNING event_seq",
        )?
        .query_row([user], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(None) };
    c.prepare_cached(
        "INSERT INTO events (user_id, seq, action, task_id, task, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![user, seq, action.as_str(), subject, json, at])?;
    Ok(Some(Event::new(seq, user, action, json, &at)))
}

/// Appends one event per `(user, action, json)` about task or project `subject`, each
/// under its user's next event id, in two statements whatever the number of users: one
/// `UPDATE` takes every user's next id, one `INSERT` writes every row. The events come
/// back in the order given, less those of accounts being purged (they take no more).
/// Each user appears once.
pub(super) fn events_for(
    c: &Connection,
    subject: i64,
    fan: &[(i64, Action, &str)],
) -> Result<Vec<Event>> {
    if let [(user, action, json)] = fan {
        return Ok(event_for(c, *user, *action, subject, json)?
            .into_iter()
            .collect());
    }
    let at = now_timestamp();
    let ids = fan
        .iter()
        .map(|(user, _, _)| user.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut seqs = std::collections::HashMap::with_capacity(fan.len());
    {
        let mut update = c.prepare_cached(
            "UPDATE users SET event_seq = event_seq + 1
             WHERE id IN (SELECT value FROM json_each(?1)) AND deleted_at IS NULL
             RETURNING id, event_seq",
        )?;
        let mut rows = update.query([format!("[{ids}]")])?;
        while let Some(r) = rows.next()? {
            seqs.insert(r.get::<_, i64>(0)?, r.get::<_, i64>(1)?);
        }
    }
    let mut events = Vec::with_capacity(fan.len());
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&subject, &at];
    let mut rows = Vec::with_capacity(fan.len());
    for (user, action, json) in fan {
        if let Some(seq) = seqs.get(user) {
            rows.push((user, seq, action.as_str(), json));
            events.push(Event::new(*seq, *user, *action, json, &at));
        }
    }
    if rows.is_empty() {
        return Ok(events);
    }
    for (user, seq, action, json) in &rows {
        values.extend([*user as &dyn rusqlite::ToSql, *seq, action, *json]);
    }
    let tuples = (0..rows.len())
        .map(|i| {
            let p = 3 + 4 * i;
            format!("(?{},?{},?{},?{})", p, p + 1, p + 2, p + 3)
        })
        .collect::<Vec<_>>()
        .join(",");
    c.prepare_cached(&format!(
        "INSERT INTO events (user_id, seq, action, task_id, task, at)
         SELECT column1, column2, column3, ?1, column4, ?2 FROM (VALUES {tuples})"
    ))?
    .execute(values.as_slice())?;
    Ok(events)
}

#[async_trait]
impl EventStore for Sqlite {
    async fn events_after(
        &self,
        user_id: i64,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<Event>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, action, task, at FROM events WHERE user_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![user_id, since, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            let mut bytes = 0;
            for row in rows {
                let (seq, action, task, at) = row?;
                let action = Action::parse(&action)
                    .ok_or_else(|| StoreError::Other(format!("bad action in event {seq}")))?;
                let event = Event::new(seq, user_id, action, &task, &at);
                bytes += event.json.len();
                out.push(event);
                if bytes >= max_bytes {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn event_cursor(&self, user_id: i64) -> Result<EventCursor> {
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT event_seq, events_pruned_through FROM users WHERE id = ?1",
            )?
            .query_row([user_id], |r| {
                Ok(EventCursor {
                    last: r.get(0)?,
                    pruned_through: r.get(1)?,
                })
            })?)
        })
        .await
    }

    // In short writer jobs ([`Sqlite::sweep`]), oldest first; each records the cut of
    // the events it deletes. The rows are in the order they were written (a rowid table,
    // migration `0012_lighter_writes`): each job takes the longest run of the oldest rows
    // that are all past the cutoff, so it reads only what it deletes, and never cuts a
    // user's events above one it keeps, even if the clock once went back.
    async fn prune_events(&self, cutoff: String) -> Result<usize> {
        self.sweep(Arc::new(move |tx: &Transaction, limit: i64| {
            let mut gone: Vec<(i64, i64)> = Vec::new();
            let mut through: Option<i64> = None;
            {
                let mut oldest = tx.prepare_cached(
                    "SELECT rowid, user_id, seq, at < ?1 FROM events ORDER BY rowid LIMIT ?2",
                )?;
                let mut rows = oldest.query(params![cutoff, limit])?;
                while let Some(r) = rows.next()? {
                    if !r.get::<_, bool>(3)? {
                        break;
                    }
                    through = Some(r.get(0)?);
                    gone.push((r.get(1)?, r.get(2)?));
                }
            }
            let Some(through) = through else {
                return Ok(0);
            };
            let mut last: BTreeMap<i64, i64> = BTreeMap::new();
            for &(user, seq) in &gone {
                let cut = last.entry(user).or_insert(seq);
                *cut = (*cut).max(seq);
            }
            for (user, seq) in last {
                tx.prepare_cached(
                    "UPDATE users SET events_pruned_through = MAX(events_pruned_through, ?2)
                     WHERE id = ?1",
                )?
                .execute(params![user, seq])?;
            }
            tx.prepare_cached("DELETE FROM events WHERE rowid <= ?1")?
                .execute([through])?;
            Ok(gone.len())
        }))
        .await
    }
}
