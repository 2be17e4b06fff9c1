//! Tasks. Every change writes its outbox event in the same transaction and returns it,
//! so the caller can publish exactly what was committed.

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};

use super::{Sqlite, events::insert_event};
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Task, Timestamp, User};
use crate::store::tasks::{
    AssigneeFilter, IfMatch, NewTask, ProjectFilter, TaskChanges, TaskPage, TaskQuery, TaskRow,
    assignee_of, check_if_match, like_pattern, order_by, write_task,
};
use crate::store::tasks::{TASK_COLUMNS, TaskStore};
use crate::store::{Result, StoreError};

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Other(format!("json: {e}"))
}

/// Appends one task row (`TASK_COLUMNS`) as JSON, in `Task`'s key order.
fn write_row(out: &mut Vec<u8>, r: &Row, user_json: &[u8]) -> Result<()> {
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

fn task(owner: &User) -> impl Fn(&Row) -> rusqlite::Result<Task> + '_ {
    move |r| {
        Ok(Task {
            id: r.get(0)?,
            title: r.get(1)?,
            description: r.get(2)?,
            completed: r.get(3)?,
            created_at: Timestamp(r.get(4)?),
            updated_at: Timestamp(r.get(5)?),
            user: owner.clone(),
            version: r.get(6)?,
            project: r.get(10)?,
            due_at: r.get::<_, Option<String>>(7)?.map(Timestamp),
            assignee: assignee_of(r.get(8)?, r.get(9)?),
        })
    }
}

/// Inserts a task and its event inside the caller's transaction.
pub(super) fn insert_task(tx: &Transaction, owner: User, new: NewTask) -> Result<(Task, Event)> {
    let now = now_timestamp();
    tx.prepare_cached(
        "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
         due_at, assignee_id, project_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        owner.id,
        new.title,
        new.description,
        new.completed,
        now,
        new.due_at.as_deref(),
        new.assignee.as_ref().map(|a| a.id),
        new.project,
    ])?;
    let task = Task {
        id: tx.last_insert_rowid(),
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
    let event = insert_event(tx, Action::Create, &task)?;
    Ok((task, event))
}

fn fetch(tx: &Transaction, owner: &User, id: i64) -> Result<Task> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2");
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(params![id, owner.id], task(owner))?)
}

#[async_trait]
impl TaskStore for Sqlite {
    // The array is written straight from the rows (no `Task` values, no second pass):
    // the list is the hottest read, and this is byte for byte what serialising the
    // tasks would give.
    async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage> {
        self.run(move |conn| {
            let c = conn.transaction()?;
            // A project task only while its creator is still a member.
            let mut filter = String::from(
                "user_id = :user AND (project_id IS NULL OR project_id IN \
                 (SELECT project_id FROM project_members WHERE user_id = :user))",
            );
            if q.completed.is_some() {
                filter.push_str(" AND completed = :completed");
            }
            if q.search.is_some() {
                filter.push_str(
                    " AND (title LIKE :pattern ESCAPE '\\' \
                     OR IFNULL(description, '') LIKE :pattern ESCAPE '\\')",
                );
            }
            let pattern = q.search.as_deref().map(like_pattern);
            let mut args: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":user", &owner.id)];
            if let Some(completed) = &q.completed {
                args.push((":completed", completed));
            }
            if let Some(pattern) = &pattern {
                args.push((":pattern", pattern));
            }
            match &q.assignee {
                Some(AssigneeFilter::User(id)) => {
                    filter.push_str(" AND assignee_id = :assignee");
                    args.push((":assignee", id));
                }
                Some(AssigneeFilter::Nobody) => filter.push_str(" AND assignee_id IS NULL"),
                None => {}
            }
            match &q.project {
                Some(ProjectFilter::Project(id)) => {
                    filter.push_str(" AND project_id = :project");
                    args.push((":project", id));
                }
                Some(ProjectFilter::Personal) => filter.push_str(" AND project_id IS NULL"),
                None => {}
            }
            if let Some(before) = &q.due_before {
                filter.push_str(" AND due_at <= :due_before");
                args.push((":due_before", before));
            }
            if let Some(after) = &q.due_after {
                filter.push_str(" AND due_at >= :due_after");
                args.push((":due_after", after));
            }
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE {filter} ORDER BY {} \
                 LIMIT :limit OFFSET :offset",
                order_by(q.ordering)
            );
            let limit = i64::from(q.limit);
            let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
            let mut page_args = args.clone();
            page_args.push((":limit", &limit));
            page_args.push((":offset", &offset));
            let user_json = serde_json::to_vec(&owner).map_err(json_error)?;
            let mut body = Vec::with_capacity(64 + 320 * q.limit.min(100) as usize);
            body.push(b'[');
            let mut count = 0usize;
            {
                let mut stmt = c.prepare_cached(&sql)?;
                let mut rows = stmt.query(page_args.as_slice())?;
                while let Some(r) = rows.next()? {
                    if count > 0 {
                        body.push(b',');
                    }
                    write_row(&mut body, r, &user_json)?;
                    count += 1;
                }
            }
            body.push(b']');
            // The count is only needed when the page might not be everything.
            let total = if q.offset == 0 && count < q.limit as usize {
                count as u64
            } else {
                let sql = format!("SELECT COUNT(*) FROM tasks WHERE {filter}");
                let n: i64 = c
                    .prepare_cached(&sql)?
                    .query_row(args.as_slice(), |r| r.get(0))?;
                n as u64
            };
            // A deleted account (being purged) shows nothing: `NotFound`.
            let last_event_id: i64 = c
                .prepare_cached("SELECT event_seq FROM users WHERE id = ?1 AND deleted_at IS NULL")?
                .query_row([owner.id], |r| r.get(0))?;
            c.commit()?;
            Ok(TaskPage {
                json: body,
                count,
                total,
                last_event_id,
            })
        })
        .await
    }

    // Taken on the calling thread when a connection is idle.
    async fn event_seq(&self, user_id: i64) -> Result<i64> {
        fn read(c: &rusqlite::Connection, user_id: i64) -> rusqlite::Result<i64> {
            c.prepare_cached("SELECT event_seq FROM users WHERE id = ?1 AND deleted_at IS NULL")?
                .query_row([user_id], |r| r.get(0))
        }
        if let Some(seq) = self.read_now(|c| read(c, user_id)) {
            return seq;
        }
        self.run(move |c| Ok(read(c, user_id)?)).await
    }

    async fn get_task(&self, owner: User, id: i64) -> Result<Task> {
        self.run(move |c| {
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2");
            Ok(c.prepare_cached(&sql)?
                .query_row(params![id, owner.id], task(&owner))?)
        })
        .await
    }

    async fn create_task(&self, owner: User, new: NewTask) -> Result<(Task, Event)> {
        self.write(move |tx| insert_task(tx, owner, new)).await
    }

    async fn update_task(
        &self,
        owner: User,
        id: i64,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
    ) -> Result<(Task, Event)> {
        self.write(move |tx| {
            let mut task = fetch(tx, &owner, id)?;
            check_if_match(&task, if_match.as_ref())?;
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
            let event = insert_event(tx, Action::Update, &task)?;
            Ok((task, event))
        })
        .await
    }

    async fn delete_task(&self, owner: User, id: i64, if_match: Option<IfMatch>) -> Result<Event> {
        self.write(move |tx| {
            let task = fetch(tx, &owner, id)?;
            check_if_match(&task, if_match.as_ref())?;
            tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
                .execute([id])?;
            insert_event(tx, Action::Delete, &task)
        })
        .await
    }
}
