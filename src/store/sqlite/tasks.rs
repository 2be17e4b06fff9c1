//! Tasks. Every change writes its outbox event in the same transaction and returns it,
//! so the caller can publish exactly what was committed.

use async_trait::async_trait;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Sqlite, events::events_for};
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Role, Task, TaskUser, Timestamp, User};
use crate::store::projects::role_of;
use crate::store::tasks::{
    Audience, IfMatch, NewTask, Place, TaskChanges, TaskJson, TaskPage, TaskQuery, TaskRow,
    TaskRule, assignee_of, check_if_match, fan_out, seen_by, write_task,
};
use crate::store::tasks::{TASK_WITH_CREATOR, TaskStore, task_refused};
use crate::store::{Result, StoreError};

/// Appends one task row (`TASK_COLUMNS`) as JSON, in `Task`'s key order.
pub(super) fn write_row(out: &mut Vec<u8>, r: &Row, user_json: &[u8]) -> Result<()> {
    let text = |i: usize| -> Result<&str> {
        r.get_ref(i)?
            .as_str()
            .map_err(|e| StoreError::Other(e.to_string()))
    };
    let row = TaskRow {
        id: r.get(0)?,
        title: text(1)?,
        description: r
            .get_ref(2)?
            .as_str_or_null()
            .map_err(|e| StoreError::Other(e.to_string()))?,
        completed: r.get(3)?,
        created_at: text(4)?,
        updated_at: text(5)?,
        version: r.get(6)?,
        project: r.get(10)?,
        assignee: match (r.get::<_, Option<i64>>(8)?, r.get_ref(9)?) {
            (Some(id), rusqlite::types::ValueRef::Text(name)) => Some((
                id,
                std::str::from_utf8(name).map_err(|e| StoreError::Other(e.to_string()))?,
            )),
            _ => None,
        },
        due_at: r
            .get_ref(7)?
            .as_str_or_null()
            .map_err(|e| StoreError::Other(e.to_string()))?,
    };
    write_task(out, &row, user_json)
}

/// A whole task from a row read with [`TASK_WITH_CREATOR`].
fn task(r: &Row) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        completed: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        updated_at: Timestamp(r.get(5)?),
        user: TaskUser {
            id: r.get(11)?,
            username: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
            email: r.get(13)?,
        },
        version: r.get(6)?,
        project: r.get(10)?,
        due_at: r.get::<_, Option<String>>(7)?.map(Timestamp),
        assignee: assignee_of(r.get(8)?, r.get(9)?),
    })
}

/// Task `id` whoever may see it, or `None`.
fn fetch(c: &Connection, id: i64) -> Result<Option<Task>> {
    let sql = format!("SELECT {TASK_WITH_CREATOR} FROM tasks WHERE id = ?1");
    Ok(c.prepare_cached(&sql)?.query_row([id], task).optional()?)
}

/// Where `project` is as `user` stands there, for a task created by `creator`.
fn place(c: &Connection, user: i64, project: Option<i64>, creator: i64) -> Result<Place> {
    Ok(match project {
        None => Place::Personal {
            own: user == creator,
        },
        Some(p) => Place::Project(role_in(c, p, user)?),
    })
}

fn sees(place: Place) -> bool {
    matches!(
        place,
        Place::Personal { own: true } | Place::Project(Some(_))
    )
}

pub(super) fn role_in(c: &Connection, project: i64, user: i64) -> Result<Option<Role>> {
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM project_members WHERE project_id = ?1 AND user_id = ?2")?
        .query_row(params![project, user], |r| r.get(0))
        .optional()?;
    role.as_deref().map(role_of).transpose()
}

/// The users who see a task created by `creator` in `project`, by id.
fn audience(c: &Connection, creator: i64, project: Option<i64>) -> Result<Vec<i64>> {
    match Audience::of(project) {
        Audience::Creator => Ok(vec![creator]),
        Audience::Project(p) => Ok(c
            .prepare_cached(
                "SELECT user_id FROM project_members WHERE project_id = ?1 ORDER BY user_id",
            )?
            .query_map([p], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?),
    }
}

/// Writes the events of a change to `task` (each with the task as its user sees it),
/// each under its user's next event id. An account being purged takes none, and a
/// caller whose own account is being purged changes nothing (`NotFound`).
fn write_events(
    c: &Connection,
    caller: i64,
    task: &Task,
    fan: Vec<(i64, Action)>,
) -> Result<Vec<Event>> {
    let mut json = TaskJson::new(task)?;
    // The creator's copy and everyone else's (rendered once, shared by all of them).
    let others = fan.iter().find(|&&(user, _)| user != task.user.id);
    let others = match others {
        Some(&(user, _)) => json.for_user(user)?.to_owned(),
        None => String::new(),
    };
    let own = json.for_user(task.user.id)?;
    let rows: Vec<(i64, Action, &str)> = fan
        .iter()
        .map(|&(user, action)| {
            let text = if user == task.user.id { own } else { &others };
            (user, action, text)
        })
        .collect();
    let events = events_for(c, task.id, &rows)?;
    if fan.iter().any(|&(user, _)| user == caller) && !events.iter().any(|e| e.user_id == caller) {
        // The caller's own account is being purged: it changes nothing.
        return Err(StoreError::NotFound);
    }
    Ok(events)
}

/// Inserts a task by `caller` and its events inside the caller's transaction (the rule,
/// if any, already asked).
pub(super) fn insert_task(
    tx: &Transaction,
    caller: User,
    new: NewTask,
) -> Result<(Task, Vec<Event>)> {
    let now = now_timestamp();
    tx.prepare_cached(
        "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
         due_at, assignee_id, project_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        caller.id,
        new.title,
        new.description,
        new.completed,
        now,
        new.due_at.as_deref(),
        new.assignee.as_ref().map(|a| a.id),
        new.project,
    ])?;
    let caller_id = caller.id;
    let task = Task {
        id: tx.last_insert_rowid(),
        title: new.title,
        description: new.description,
        completed: new.completed,
        created_at: Timestamp(now.clone()),
        updated_at: Timestamp(now),
        user: caller.into(),
        version: 1,
        project: new.project,
        assignee: new.assignee,
        due_at: new.due_at,
    };
    let after = audience(tx, caller_id, task.project)?;
    let events = write_events(tx, caller_id, &task, fan_out(None, Some(&after)))?;
    Ok((task, events))
}

/// Asks `rule` about a create in `project` by `caller`, with their role as it is now.
pub(super) fn check_create(
    tx: &Transaction,
    caller: i64,
    project: Option<i64>,
    rule: TaskRule,
) -> Result<()> {
    if project.is_some() {
        let at = place(tx, caller, project, caller)?;
        rule(at, at, true).map_err(task_refused)?;
    }
    Ok(())
}

#[async_trait]
impl TaskStore for Sqlite {
    // The array is written straight from the rows (no `Task` values, no second pass):
    // the list is the hottest read, and this is byte for byte what serialising the
    // tasks would give.
    async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage> {
        self.run(move |conn| super::task_list::list(conn, owner, q))
            .await
    }

    // Taken on the calling thread when a connection is idle.
    async fn event_seq(&self, user_id: i64) -> Result<i64> {
        fn read(c: &rusqlite::Connection, user_id: i64) -> rusqlite::Result<i64> {
            c.prepare_cached(
                "SELECT event_seq + list_epoch FROM users WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .query_row([user_id], |r| r.get(0))
        }
        if let Some(seq) = self.read_now(|c| read(c, user_id)) {
            return seq;
        }
        self.run(move |c| Ok(read(c, user_id)?)).await
    }

    async fn get_task(&self, caller: User, id: i64) -> Result<Task> {
        self.run(move |c| {
            let task = fetch(c, id)?.ok_or(StoreError::NotFound)?;
            if !sees(place(c, caller.id, task.project, task.user.id)?) {
                return Err(StoreError::NotFound);
            }
            Ok(seen_by(task, caller.id))
        })
        .await
    }

    async fn create_task(
        &self,
        caller: User,
        new: NewTask,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)> {
        self.write(move |tx| {
            check_create(tx, caller.id, new.project, rule)?;
            insert_task(tx, caller, new)
        })
        .await
    }

    async fn update_task(
        &self,
        caller: User,
        id: i64,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)> {
        self.write(move |tx| {
            let mut task = fetch(tx, id)?.ok_or(StoreError::NotFound)?;
            let creator = task.user.id;
            let from = place(tx, caller.id, task.project, creator)?;
            let target = changes.project.unwrap_or(task.project);
            let to = if target == task.project {
                from
            } else {
                place(tx, caller.id, target, creator)?
            };
            rule(from, to, creator == caller.id).map_err(task_refused)?;
            check_if_match(&task, if_match.as_ref())?;
            let before = audience(tx, creator, task.project)?;
            changes.apply(&mut task);
            task.updated_at = Timestamp(now_timestamp());
            task.version += 1;
            tx.prepare_cached(
                "UPDATE tasks SET title = ?1, description = ?2, completed = ?3, updated_at = ?4,
                 due_at = ?5, assignee_id = ?6, project_id = ?7, version = version + 1
                 WHERE id = ?8",
            )?
            .execute(params![
                task.title,
                task.description,
                task.completed,
                task.updated_at.as_str(),
                task.due_at.as_deref(),
                task.assignee.as_ref().map(|a| a.id),
                task.project,
                id
            ])?;
            let after = audience(tx, creator, task.project)?;
            let events = write_events(tx, caller.id, &task, fan_out(Some(&before), Some(&after)))?;
            Ok((seen_by(task, caller.id), events))
        })
        .await
    }

    async fn delete_task(
        &self,
        caller: User,
        id: i64,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<Vec<Event>> {
        self.write(move |tx| {
            let task = fetch(tx, id)?.ok_or(StoreError::NotFound)?;
            let at = place(tx, caller.id, task.project, task.user.id)?;
            rule(at, at, task.user.id == caller.id).map_err(task_refused)?;
            check_if_match(&task, if_match.as_ref())?;
            let before = audience(tx, task.user.id, task.project)?;
            tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
                .execute([id])?;
            write_events(tx, caller.id, &task, fan_out(Some(&before), None))
        })
        .await
    }
}
