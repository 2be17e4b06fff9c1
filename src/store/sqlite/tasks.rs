//! Tasks. Every change writes its outbox event in the same transaction and returns it,
//! so the caller can publish exactly what was committed.

use async_trait::async_trait;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Sqlite, events::events_for};
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Role, Task, TaskUser, Timestamp, User};
use crate::store::projects::role_of;
use crate::store::tasks::{
    AssigneeFilter, Audience, IfMatch, NewTask, Place, ProjectFilter, TaskChanges, TaskJson,
    TaskPage, TaskQuery, TaskRow, TaskRule, assignee_of, check_if_match, creator_json, fan_out,
    like_pattern, order_by, order_by_visible, seen_by, write_task,
};
use crate::store::tasks::{TASK_COLUMNS, TASK_WITH_CREATOR, TaskStore, task_refused};
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

/// The tasks `:user` sees (with `:project` bound for one project's): their personal
/// tasks and those of every project they belong to. Each arm is served by an index in
/// id order (`tasks_personal`, `tasks_by_project`).
fn visible_filter(project: Option<ProjectFilter>) -> &'static str {
    match project {
        None => {
            "((user_id = :user AND project_id IS NULL) OR project_id IN \
             (SELECT project_id FROM project_members WHERE user_id = :user))"
        }
        Some(ProjectFilter::Personal) => "user_id = :user AND project_id IS NULL",
        Some(ProjectFilter::Project(_)) => {
            "project_id = :project AND EXISTS (SELECT 1 FROM project_members \
             WHERE project_id = :project AND user_id = :user)"
        }
    }
}

/// Past this many rows holding the term's trigrams (anyone's), a search's page walks
/// the list in its order instead, checking each task with `LIKE`: with that many
/// matches the page fills long before the end, where sorting every candidate would not
/// stop early. (Its count still reads only the candidates.)
const SEARCH_CANDIDATES: i64 = 500;

/// The search's candidates from the index, bound as `:trigrams`; the list keeps its
/// `LIKE` on them, which decides: the trigrams only find a superset of its matches
/// (FTS5 folds more case than `LIKE`, and ignores the trigrams' order).
const SEARCH_IN: &str =
    " AND id IN (SELECT rowid FROM task_search WHERE task_search MATCH :trigrams)";

/// The `task_search` query for `term` (every trigram, each quoted, `AND`ed; `None` for
/// a term of fewer than three characters, which has none and is left to `LIKE` alone),
/// and whether there are many candidates: [`SEARCH_CANDIDATES`] or more rows hold them.
fn search_candidates(c: &Connection, term: &str) -> Result<(Option<String>, bool)> {
    let Some(query) = search_trigrams(term) else {
        return Ok((None, false));
    };
    let n: i64 = c
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM task_search \
             WHERE task_search MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![query, SEARCH_CANDIDATES], |r| r.get(0))?;
    Ok((Some(query), n >= SEARCH_CANDIDATES))
}

/// The FTS5 query for `term`'s trigrams, `None` for a term of fewer than three
/// characters (or holding a NUL, which FTS5 queries cannot). Any subset of the trigrams
/// still finds every match: a long term asks for at most 12, spread over it.
fn search_trigrams(term: &str) -> Option<String> {
    const MAX_TRIGRAMS: usize = 12;
    if term.contains('\0') {
        return None;
    }
    let starts: Vec<usize> = term.char_indices().map(|(i, _)| i).collect();
    let windows = starts.len().checked_sub(2).filter(|&n| n > 0)?;
    let step = windows.div_ceil(MAX_TRIGRAMS);
    let mut picked: Vec<&str> = (0..windows)
        .step_by(step)
        .chain([windows - 1])
        .map(|w| {
            let end = starts.get(w + 3).copied().unwrap_or(term.len());
            &term[starts[w]..end]
        })
        .collect();
    picked.sort_unstable();
    picked.dedup();
    let quoted: Vec<String> = picked
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" AND "))
}

#[async_trait]
impl TaskStore for Sqlite {
    // The array is written straight from the rows (no `Task` values, no second pass):
    // the list is the hottest read, and this is byte for byte what serialising the
    // tasks would give.
    async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage> {
        self.run(move |conn| {
            let c = conn.transaction()?;
            let mut filter = String::from(visible_filter(q.project));
            if q.completed.is_some() {
                filter.push_str(" AND completed = :completed");
            }
            // The search index's candidates: for the count whenever the term has
            // trigrams, for the page unless there are many (see `search_candidates`).
            let (trigrams, many) = match &q.search {
                Some(term) => search_candidates(&c, term)?,
                None => (None, false),
            };
            let (page_in, count_in) = match (&trigrams, many) {
                (None, _) => ("", ""),
                (Some(_), true) => ("", SEARCH_IN),
                (Some(_), false) => (SEARCH_IN, SEARCH_IN),
            };
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
            if let Some(ProjectFilter::Project(id)) = &q.project {
                args.push((":project", id));
            }
            if let Some(before) = &q.due_before {
                filter.push_str(" AND due_at <= :due_before");
                args.push((":due_before", before));
            }
            if let Some(after) = &q.due_after {
                filter.push_str(" AND due_at >= :due_after");
                args.push((":due_after", after));
            }
            // The creator's username only for another's task (12).
            let sql = format!(
                "SELECT {TASK_COLUMNS}, CASE WHEN user_id = :user THEN NULL ELSE \
                 (SELECT c.username FROM users c WHERE c.id = tasks.user_id) END \
                 FROM tasks WHERE {filter}{page_in} ORDER BY {} LIMIT :limit OFFSET :offset",
                match q.project {
                    None => order_by_visible(q.ordering),
                    Some(_) => order_by(q.ordering),
                }
            );
            let limit = i64::from(q.limit);
            let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
            let mut page_args = args.clone();
            page_args.push((":limit", &limit));
            page_args.push((":offset", &offset));
            if let (Some(t), false) = (&trigrams, many) {
                page_args.push((":trigrams", t));
            }
            let own_json = serde_json::to_vec(&owner).map_err(json_error)?;
            // Each creator's JSON, rendered once per page.
            let mut creators: HashMap<i64, Vec<u8>> = HashMap::new();
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
                    let creator: i64 = r.get(11)?;
                    let user_json = if creator == owner.id {
                        &own_json
                    } else {
                        match creators.entry(creator) {
                            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                            std::collections::hash_map::Entry::Vacant(e) => {
                                let name = r.get_ref(12)?.as_str_or_null().ok().flatten();
                                e.insert(creator_json(&owner, creator, name.unwrap_or(""))?)
                            }
                        }
                    };
                    write_row(&mut body, r, user_json)?;
                    count += 1;
                }
            }
            body.push(b']');
            // The count is only needed when the page might not be everything.
            let total = if q.offset == 0 && count < q.limit as usize {
                count as u64
            } else {
                let sql = format!("SELECT COUNT(*) FROM tasks WHERE {filter}{count_in}");
                let mut args = args.clone();
                if let Some(t) = &trigrams {
                    args.push((":trigrams", t));
                }
                let n: i64 = c
                    .prepare_cached(&sql)?
                    .query_row(args.as_slice(), |r| r.get(0))?;
                n as u64
            };
            // A deleted account (being purged) shows nothing: `NotFound`.
            let (last_event_id, epoch): (i64, i64) = c
                .prepare_cached(
                    "SELECT event_seq, list_epoch FROM users WHERE id = ?1 AND deleted_at IS NULL",
                )?
                .query_row([owner.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            c.commit()?;
            Ok(TaskPage {
                json: body,
                count,
                total,
                last_event_id,
                list_version: last_event_id + epoch,
            })
        })
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

#[cfg(test)]
mod tests {
    use super::search_trigrams;

    #[test]
    fn a_search_term_gives_its_trigrams_quoted() {
        assert_eq!(search_trigrams("ab"), None);
        assert_eq!(search_trigrams("éà"), None);
        assert_eq!(search_trigrams("a\0bc"), None);
        assert_eq!(search_trigrams("abc").as_deref(), Some(r#""abc""#));
        assert_eq!(
            search_trigrams(r#"a"bcé"#).as_deref(),
            Some(r#""""bc" AND "a""b" AND "bcé""#)
        );
        // A long term: at most a dozen, the first and the last among them.
        let q = search_trigrams(&"abcdefghij".repeat(10)).unwrap();
        assert!(q.split(" AND ").count() <= 13, "{q}");
        assert!(q.contains(r#""abc""#) && q.contains(r#""hij""#), "{q}");
    }
}
