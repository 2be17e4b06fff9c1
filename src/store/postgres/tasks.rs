//! Tasks. Every change writes its outbox event in the same transaction and returns it,
//! so the caller can publish exactly what was committed.
//!
//! A change starts with [`next_event_id`]: `UPDATE users SET event_seq = event_seq + 1 …
//! RETURNING`, which locks the owner's row until commit. Everything else the transaction
//! does to the owner's tasks happens under that lock, so one user's writers (on any
//! host) run one after another, each seeing the last one's commit, and the ids they hand
//! out are gapless and in commit order.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::Postgres;
use super::create_group_commit::NewRow;
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Task, Timestamp, User};
use crate::store::tasks::{
    IfMatch, NewTask, TaskChanges, TaskPage, TaskQuery, assignee_of, check_if_match,
};
use crate::store::tasks::{TASK_COLUMNS, TaskStore};
use crate::store::{Result, StoreError};

fn task(r: &Row, owner: &User) -> Result<Task> {
    Ok(Task {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        description: r.try_get(2)?,
        completed: r.try_get(3)?,
        created_at: Timestamp(r.try_get(4)?),
        updated_at: Timestamp(r.try_get(5)?),
        user: owner.clone(),
        version: r.try_get(6)?,
        project: r.try_get(10)?,
        due_at: r.try_get::<_, Option<String>>(7)?.map(Timestamp),
        assignee: assignee_of(r.try_get(8)?, r.try_get(9)?),
    })
}

/// Takes the owner's next event id, locking their row until the transaction ends: the
/// first statement of every transaction that changes their tasks. `None` when the user
/// is gone or deleted (a deleted account takes no more changes).
pub(super) async fn next_event_id(tx: &Transaction<'_>, user_id: i64) -> Result<Option<i64>> {
    let stmt = tx
        .prepare_cached(
            "UPDATE users SET event_seq = event_seq + 1 WHERE id = $1 AND deleted_at IS NULL
             RETURNING event_seq",
        )
        .await?;
    Ok(match tx.query_opt(&stmt, &[&user_id]).await? {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// [`next_event_id`] for a create: a missing owner is an error (as SQLite's foreign key
/// makes it), not a missing task.
pub(super) async fn next_event_id_for_create(tx: &Transaction<'_>, user_id: i64) -> Result<i64> {
    next_event_id(tx, user_id)
        .await?
        .ok_or_else(|| StoreError::Other(format!("user {user_id} does not exist")))
}

/// Appends the event `seq` for `task` inside the caller's transaction.
pub(super) async fn insert_event(
    tx: &Transaction<'_>,
    seq: i64,
    action: Action,
    task: &Task,
) -> Result<Event> {
    let task_json =
        serde_json::to_string(task).map_err(|e| StoreError::Other(format!("task json: {e}")))?;
    let at = now_timestamp();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO events (user_id, seq, action, task_id, task, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &task.user.id,
            &seq,
            &action.as_str(),
            &task.id,
            &task_json,
            &at,
        ],
    )
    .await?;
    Ok(Event::new(seq, task.user.id, action, &task_json, &at))
}

/// Inserts a task and its event `seq` inside the caller's transaction (which holds the
/// owner's row lock, from [`next_event_id`]).
pub(super) async fn insert_task(
    tx: &Transaction<'_>,
    owner: User,
    new: NewTask,
    seq: i64,
) -> Result<(Task, Event)> {
    let now = now_timestamp();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
             due_at, assignee_id, project_id) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)
             RETURNING id",
        )
        .await?;
    let id: i64 = tx
        .query_one(
            &stmt,
            &[
                &owner.id,
                &new.title,
                &new.description,
                &new.completed,
                &now,
                &new.due_at.as_deref(),
                &new.assignee.as_ref().map(|a| a.id),
                &new.project,
            ],
        )
        .await?
        .try_get(0)?;
    let task = Task {
        id,
        title: new.title,
        description: new.description,
        completed: new.completed,
        created_at: Timestamp(now.clone()),
        updated_at: Timestamp(now),
        user: owner,
        version: 1,
        project: new.project,
        assignee: new.assignee,
        due_at: new.due_at,
    };
    let event = insert_event(tx, seq, Action::Create, &task).await?;
    Ok((task, event))
}

/// What follows the id in the JSON of `task` (whose id is 0): `{"id":` + id + this is
/// the task's JSON with that id. `None` if the id is not the first field.
fn json_after_id(task: &Task) -> Result<Option<String>> {
    let json =
        serde_json::to_string(task).map_err(|e| StoreError::Other(format!("task json: {e}")))?;
    Ok(json
        .strip_prefix(r#"{"id":0"#)
        .filter(|tail| tail.starts_with(','))
        .map(str::to_owned))
}

/// The owner's task `id`, locked for the rest of the transaction.
async fn fetch_for_update(tx: &Transaction<'_>, owner: &User, id: i64) -> Result<Task> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE OF tasks"
        ))
        .await?;
    let row = tx
        .query_opt(&stmt, &[&id, &owner.id])
        .await?
        .ok_or(StoreError::NotFound)?;
    task(&row, owner)
}

#[async_trait]
impl TaskStore for Postgres {
    // One `REPEATABLE READ` snapshot ([`super::task_list`]).
    async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage> {
        super::task_list::list(self, owner, q).await
    }

    // Sent with the others waiting at the time ([`super::event_seq_reads`]).
    async fn event_seq(&self, user_id: i64) -> Result<i64> {
        self.seq_reads()
            .read(user_id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn get_task(&self, owner: User, id: i64) -> Result<Task> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"
            ))
            .await?;
        let row = c
            .query_opt(&stmt, &[&id, &owner.id])
            .await?
            .ok_or(StoreError::NotFound)?;
        task(&row, &owner)
    }

    // Through the group commit ([`super::create_group_commit`]): the owner's next event id, the task
    // and its event in one statement, committed with whatever other creates are
    // waiting. The event's copy of the task is the task's JSON with the id the insert
    // gave spliced in ([`json_after_id`]).
    async fn create_task(&self, owner: User, new: NewTask) -> Result<(Task, Event)> {
        let now = now_timestamp();
        let mut task = Task {
            id: 0,
            title: new.title,
            description: new.description,
            completed: new.completed,
            created_at: Timestamp(now.clone()),
            updated_at: Timestamp(now.clone()),
            user: owner,
            version: 1,
            project: new.project,
            assignee: new.assignee,
            due_at: new.due_at,
        };
        // A project's task takes the plain path: the group commit writes personal tasks.
        let tail = match task.project {
            None => json_after_id(&task)?,
            Some(_) => None,
        };
        let Some(json_tail) = tail else {
            // Not reached for a personal task while `id` is `Task`'s first field (a test
            // checks it).
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            let seq = next_event_id_for_create(&tx, task.user.id).await?;
            let new = NewTask {
                title: task.title,
                description: task.description,
                completed: task.completed,
                due_at: task.due_at,
                assignee: task.assignee,
                project: task.project,
            };
            let out = insert_task(&tx, task.user, new, seq).await?;
            self.commit(tx).await?;
            return Ok(out);
        };
        let at = now_timestamp();
        let row = NewRow {
            user_id: task.user.id,
            title: task.title.clone(),
            description: task.description.clone(),
            completed: task.completed,
            now,
            json_tail: json_tail.clone(),
            due_at: task.due_at.as_ref().map(|d| d.0.clone()),
            assignee_id: task.assignee.as_ref().map(|a| a.id),
            at: at.clone(),
        };
        let (seq, id) =
            self.creates().create(row).await?.ok_or_else(|| {
                StoreError::Other(format!("user {} does not exist", task.user.id))
            })?;
        task.id = id;
        let task_json = format!(r#"{{"id":{id}{json_tail}"#);
        let event = Event::new(seq, task.user.id, Action::Create, &task_json, &at);
        Ok((task, event))
    }

    async fn update_task(
        &self,
        owner: User,
        id: i64,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
    ) -> Result<(Task, Event)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let seq = next_event_id(&tx, owner.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut task = fetch_for_update(&tx, &owner, id).await?;
        check_if_match(&task, if_match.as_ref())?;
        changes.apply(&mut task);
        task.updated_at = Timestamp(now_timestamp());
        task.version += 1;
        let stmt = tx
            .prepare_cached(
                "UPDATE tasks SET title = $1, description = $2, completed = $3, updated_at = $4,
                 due_at = $5, assignee_id = $6, project_id = $7, version = version + 1
                 WHERE id = $8",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &task.title,
                &task.description,
                &task.completed,
                &task.updated_at.0,
                &task.due_at.as_deref(),
                &task.assignee.as_ref().map(|a| a.id),
                &task.project,
                &id,
            ],
        )
        .await?;
        let event = insert_event(&tx, seq, Action::Update, &task).await?;
        self.commit(tx).await?;
        Ok((task, event))
    }

    async fn delete_task(&self, owner: User, id: i64, if_match: Option<IfMatch>) -> Result<Event> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let seq = next_event_id(&tx, owner.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let task = fetch_for_update(&tx, &owner, id).await?;
        check_if_match(&task, if_match.as_ref())?;
        let stmt = tx.prepare_cached("DELETE FROM tasks WHERE id = $1").await?;
        tx.execute(&stmt, &[&id]).await?;
        let event = insert_event(&tx, seq, Action::Delete, &task).await?;
        self.commit(tx).await?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_splices_into_the_task_json() {
        let task = Task {
            id: 0,
            title: "A \"quoted\" title, {\"id\":0}".into(),
            description: Some("ünïcode\n".into()),
            completed: true,
            created_at: "2026-12-01T00:00:00.000000Z".into(),
            updated_at: "2026-12-01T00:00:00.000000Z".into(),
            user: User {
                id: 7,
                username: "alice".into(),
                email: "alice@example.com".into(),
            },
            version: 1,
            project: None,
            assignee: Some(crate::model::UserRef {
                id: 7,
                username: "alice".into(),
            }),
            due_at: Some("2026-12-02T00:00:00.000000Z".into()),
        };
        let tail = json_after_id(&task)
            .unwrap()
            .expect("id is the first field");
        for id in [1_i64, 42, 9_007_199_254_740_993] {
            let spliced = format!(r#"{{"id":{id}{tail}"#);
            let direct = serde_json::to_string(&Task { id, ..task.clone() }).unwrap();
            assert_eq!(spliced, direct);
        }
    }
}
