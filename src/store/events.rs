//! The outbox: task events, written with the change they describe, read back by the
//! stream to replay what a client missed.

use rusqlite::{Transaction, params};

use super::{Result, Store, StoreError};
use crate::model::{Action, Event, Task, now_timestamp};

/// Appends the event for `task` inside the caller's transaction.
pub(super) fn insert_event(tx: &Transaction, action: Action, task: &Task) -> Result<Event> {
    let task_json =
        serde_json::to_string(task).map_err(|e| StoreError::Other(format!("task json: {e}")))?;
    let at = now_timestamp();
    tx.prepare_cached(
        "INSERT INTO events (user_id, action, task_id, task, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        task.user.id,
        action.as_str(),
        task.id,
        task_json,
        at
    ])?;
    Ok(Event::new(
        tx.last_insert_rowid(),
        task.user.id,
        action,
        &task_json,
        &at,
    ))
}

impl Store {
    /// The user's events with id greater than `since`, oldest first, at most `limit`.
    pub async fn events_after(&self, user_id: i64, since: i64, limit: u32) -> Result<Vec<Event>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, action, task, at FROM events WHERE user_id = ?1 AND id > ?2
                 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![user_id, since, limit], |r| {
                let id: i64 = r.get(0)?;
                let action: String = r.get(1)?;
                let task: String = r.get(2)?;
                let at: String = r.get(3)?;
                Ok((id, action, task, at))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, action, task, at) = row?;
                let action = Action::parse(&action)
                    .ok_or_else(|| StoreError::Other(format!("bad action in event {id}")))?;
                out.push(Event::new(id, user_id, action, &task, &at));
            }
            Ok(out)
        })
        .await
    }

    /// The highest event id written so far (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64> {
        self.run(|c| Ok(c.query_row("SELECT IFNULL(MAX(id), 0) FROM events", [], |r| r.get(0))?))
            .await
    }
}
