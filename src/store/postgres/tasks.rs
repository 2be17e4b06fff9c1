//! Tasks. Every change writes its outbox events in the same transaction and returns
//! them, so the caller can publish exactly what was committed.
//!
//! A change locks, in this order: the projects the task is in and goes to (`FOR SHARE`,
//! by id: a membership change or a project's deletion locks its row `FOR UPDATE`, so it
//! and a task write never interleave, and a member removed never gets one more event of
//! the project), then the `users` rows of everyone who gets an event (by id, in one
//! statement, the order every writer of several users' events takes, so none deadlock),
//! then the task. Under those locks it reads the caller's role, asks the rule, and takes
//! each recipient's next event id: one user's writers (on any host) run one after
//! another, each seeing the last one's commit, and the ids they hand out are gapless and
//! in commit order. Creates take a group commit instead, personal ones
//! ([`super::create_group_commit`]) and a project's
//! ([`super::project_create_group_commit`], which locks in the same order); a project
//! create whose batch the server refused runs alone here.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::Postgres;
use super::create_group_commit::NewRow;
use super::project_create_group_commit::{Made, NewProjectRow, ROLES, role_bit};
use crate::clock::now_timestamp;
use crate::model::{Action, Event, Role, Task, TaskUser, Timestamp, User};
use crate::store::projects::role_of;
use crate::store::tasks::{
    Audience, IfMatch, NewTask, Place, TaskChanges, TaskJson, TaskPage, TaskQuery, TaskRule,
    assignee_of, check_if_match, fan_out, seen_by, task_refused,
};
use crate::store::tasks::{TASK_WITH_CREATOR, TaskStore};
use crate::store::{Result, StoreError};

/// How often a change retries when the task moved between its first look and its lock.
const MOVE_RETRIES: usize = 8;

/// A whole task from a row read with [`TASK_WITH_CREATOR`].
fn task(r: &Row) -> Result<Task> {
    Ok(Task {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        description: r.try_get(2)?,
        completed: r.try_get(3)?,
        created_at: Timestamp(r.try_get(4)?),
        updated_at: Timestamp(r.try_get(5)?),
        user: TaskUser {
            id: r.try_get(11)?,
            username: r.try_get::<_, Option<String>>(12)?.unwrap_or_default(),
            email: r.try_get(13)?,
        },
        version: r.try_get(6)?,
        project: r.try_get(10)?,
        due_at: r.try_get::<_, Option<String>>(7)?.map(Timestamp),
        assignee: assignee_of(r.try_get(8)?, r.try_get(9)?),
    })
}

/// Takes the user's next event id, locking their row until the transaction ends. `None`
/// when the user is gone or deleted (a deleted account takes no more events).
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

/// Appends an event for `user` (payload `json`, about task or project `subject`) under
/// their next event id; `None` for an account being purged.
pub(super) async fn event_for(
    tx: &Transaction<'_>,
    user: i64,
    action: Action,
    subject: i64,
    json: &str,
) -> Result<Option<Event>> {
    let Some(seq) = next_event_id(tx, user).await? else {
        return Ok(None);
    };
    let at = now_timestamp();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO events (user_id, seq, action, task_id, task, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&user, &seq, &action.as_str(), &subject, &json, &at],
    )
    .await?;
    Ok(Some(Event::new(seq, user, action, json, &at)))
}

/// Writes the events of a change to `task`, each with the task as its user sees it. A
/// caller whose own account is being purged changes nothing (`NotFound`).
async fn write_events(
    tx: &Transaction<'_>,
    caller: i64,
    task: &Task,
    fan: Vec<(i64, Action)>,
) -> Result<Vec<Event>> {
    let mut json = TaskJson::new(task)?;
    let mut users = Vec::with_capacity(fan.len());
    let mut actions = Vec::with_capacity(fan.len());
    let mut payloads = Vec::with_capacity(fan.len());
    for &(user, action) in &fan {
        users.push(user);
        actions.push(action.as_str());
        payloads.push(json.for_user(user)?.to_owned());
    }
    // One round trip for every recipient: their rows are already locked (by id, in
    // `lock_places`), so the order the UPDATE meets them in cannot deadlock.
    let at = now_timestamp();
    let stmt = tx
        .prepare_cached(
            "WITH bumped AS (
                 UPDATE users SET event_seq = event_seq + 1
                 WHERE id = ANY($1) AND deleted_at IS NULL
                 RETURNING id, event_seq
             )
             INSERT INTO events (user_id, seq, action, task_id, task, at)
             SELECT b.id, b.event_seq, x.action, $4, x.task, $5
             FROM bumped b
             JOIN unnest($1::bigint[], $2::text[], $3::text[]) AS x(user_id, action, task)
               ON x.user_id = b.id
             RETURNING user_id, seq",
        )
        .await?;
    let rows = tx
        .query(&stmt, &[&users, &actions, &payloads, &task.id, &at])
        .await?;
    let mut seqs = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        seqs.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?);
    }
    let mut events = Vec::with_capacity(fan.len());
    for (i, (user, action)) in fan.into_iter().enumerate() {
        match seqs.get(&user) {
            Some(&seq) => events.push(Event::new(seq, user, action, &payloads[i], &at)),
            // A caller whose own account is being purged changes nothing.
            None if user == caller => return Err(StoreError::NotFound),
            None => {}
        }
    }
    Ok(events)
}

pub(super) async fn role_in(tx: &Transaction<'_>, project: i64, user: i64) -> Result<Option<Role>> {
    let stmt = tx
        .prepare_cached("SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
        .await?;
    match tx.query_opt(&stmt, &[&project, &user]).await? {
        Some(r) => Ok(Some(role_of(r.try_get(0)?)?)),
        None => Ok(None),
    }
}

async fn place(
    tx: &Transaction<'_>,
    user: i64,
    project: Option<i64>,
    creator: i64,
) -> Result<Place> {
    Ok(match project {
        None => Place::Personal {
            own: user == creator,
        },
        Some(p) => Place::Project(role_in(tx, p, user).await?),
    })
}

/// The users who see a task created by `creator` in `project`, by id.
async fn audience(tx: &Transaction<'_>, creator: i64, project: Option<i64>) -> Result<Vec<i64>> {
    match Audience::of(project) {
        Audience::Creator => Ok(vec![creator]),
        Audience::Project(p) => {
            let stmt = tx
                .prepare_cached(
                    "SELECT user_id FROM project_members WHERE project_id = $1 ORDER BY user_id",
                )
                .await?;
            tx.query(&stmt, &[&p])
                .await?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        }
    }
}

/// Locks `projects` `FOR SHARE` and then the `users` rows of everyone who sees a task
/// there (and `extra`), each set by id.
async fn lock_places(
    tx: &Transaction<'_>,
    creator: i64,
    places: &[Option<i64>],
    extra: Option<i64>,
) -> Result<()> {
    let mut projects: Vec<i64> = places.iter().flatten().copied().collect();
    projects.sort_unstable();
    projects.dedup();
    if !projects.is_empty() {
        let stmt = tx
            .prepare_cached("SELECT id FROM projects WHERE id = ANY($1) ORDER BY id FOR SHARE")
            .await?;
        tx.query(&stmt, &[&projects]).await?;
    }
    let mut users: Vec<i64> = extra.into_iter().collect();
    for &p in places {
        users.extend(audience(tx, creator, p).await?);
    }
    users.sort_unstable();
    users.dedup();
    let stmt = tx
        .prepare_cached("SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .await?;
    tx.query(&stmt, &[&users]).await?;
    Ok(())
}

/// Task `id`, once the projects it is in and goes to (`target`, when it moves) and its
/// recipients' rows are locked, and locked itself; `None` when it moved between the first
/// look and the lock (the caller starts again).
async fn lock_task(
    tx: &Transaction<'_>,
    id: i64,
    target: Option<Option<i64>>,
) -> Result<Option<Task>> {
    let stmt = tx
        .prepare_cached("SELECT project_id, user_id FROM tasks WHERE id = $1")
        .await?;
    let peek = tx
        .query_opt(&stmt, &[&id])
        .await?
        .ok_or(StoreError::NotFound)?;
    let (project, creator): (Option<i64>, i64) = (peek.try_get(0)?, peek.try_get(1)?);
    let to = target.unwrap_or(project);
    lock_places(tx, creator, &[project, to], None).await?;
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {TASK_WITH_CREATOR} FROM tasks WHERE id = $1 FOR UPDATE OF tasks"
        ))
        .await?;
    let row = tx
        .query_opt(&stmt, &[&id])
        .await?
        .ok_or(StoreError::NotFound)?;
    let task = task(&row)?;
    Ok((task.project == project).then_some(task))
}

/// Locks what a create by `caller` in `project` writes under and asks `rule` (in a
/// project) with the caller's role as it is now.
pub(super) async fn lock_for_create(
    tx: &Transaction<'_>,
    caller: i64,
    project: Option<i64>,
    rule: TaskRule,
) -> Result<()> {
    lock_places(tx, caller, &[project], Some(caller)).await?;
    if project.is_some() {
        let at = place(tx, caller, project, caller).await?;
        rule(at, at, true).map_err(task_refused)?;
    }
    Ok(())
}

/// Inserts a task by `caller` and its events inside the caller's transaction, which
/// holds the locks of [`lock_for_create`].
pub(super) async fn insert_task(
    tx: &Transaction<'_>,
    caller: User,
    new: NewTask,
) -> Result<(Task, Vec<Event>)> {
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
                &caller.id,
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
    let caller_id = caller.id;
    let task = Task {
        id,
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
    let after = audience(tx, caller_id, task.project).await?;
    let events = write_events(tx, caller_id, &task, fan_out(None, Some(&after))).await?;
    Ok((task, events))
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

    async fn get_task(&self, caller: User, id: i64) -> Result<Task> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {TASK_WITH_CREATOR}, (SELECT m.role FROM project_members m
                 WHERE m.project_id = tasks.project_id AND m.user_id = $2)
                 FROM tasks WHERE id = $1"
            ))
            .await?;
        let row = c
            .query_opt(&stmt, &[&id, &caller.id])
            .await?
            .ok_or(StoreError::NotFound)?;
        let t = task(&row)?;
        let sees = match t.project {
            None => t.user.id == caller.id,
            Some(_) => row.try_get::<_, Option<String>>(14)?.is_some(),
        };
        if !sees {
            return Err(StoreError::NotFound);
        }
        Ok(seen_by(t, caller.id))
    }

    // A personal task goes through the group commit ([`super::create_group_commit`]):
    // the owner's next event id, the task and its event in one statement, committed with
    // whatever other creates are waiting. A project's task goes through the projects'
    // group commit ([`super::project_create_group_commit`]), its events for every member
    // written with those of the other project creates waiting. Either way the events'
    // copies of the task are the task's JSON with the id the insert gave spliced in
    // ([`json_after_id`]). A project create whose batch the server refused takes a
    // transaction of its own, with its locks and one event per member.
    async fn create_task(
        &self,
        caller: User,
        new: NewTask,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)> {
        let now = now_timestamp();
        let mut task = Task {
            id: 0,
            title: new.title,
            description: new.description,
            completed: new.completed,
            created_at: Timestamp(now.clone()),
            updated_at: Timestamp(now.clone()),
            user: caller.clone().into(),
            version: 1,
            project: new.project,
            assignee: new.assignee,
            due_at: new.due_at,
        };
        // Not `None` while `id` is `Task`'s first field (a test checks it).
        let tail = json_after_id(&task)?;
        match (task.project, tail) {
            (None, Some(json_tail)) => return self.create_personal(task, now, json_tail).await,
            (Some(project), Some(own_tail)) => {
                if let Some(made) = self
                    .create_in_project(&mut task, project, now, own_tail, rule)
                    .await?
                {
                    return Ok((task, made));
                }
            }
            _ => {}
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_for_create(&tx, caller.id, task.project, rule).await?;
        let new = NewTask {
            title: task.title,
            description: task.description,
            completed: task.completed,
            due_at: task.due_at,
            assignee: task.assignee,
            project: task.project,
        };
        let out = insert_task(&tx, caller, new).await?;
        self.commit(tx).await?;
        Ok(out)
    }

    async fn update_task(
        &self,
        caller: User,
        id: i64,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)> {
        let mut c = self.client().await?;
        for _ in 0..MOVE_RETRIES {
            let tx = c.transaction().await?;
            let Some(mut task) = lock_task(&tx, id, changes.project).await? else {
                tx.rollback().await?;
                continue;
            };
            let creator = task.user.id;
            let from = place(&tx, caller.id, task.project, creator).await?;
            let target = changes.project.unwrap_or(task.project);
            let to = if target == task.project {
                from
            } else {
                place(&tx, caller.id, target, creator).await?
            };
            rule(from, to, creator == caller.id).map_err(task_refused)?;
            check_if_match(&task, if_match.as_ref())?;
            let before = audience(&tx, creator, task.project).await?;
            changes.apply(&mut task);
            task.updated_at = Timestamp(now_timestamp());
            task.version += 1;
            let stmt = tx
                .prepare_cached(
                    "UPDATE tasks SET title = $1, description = $2, completed = $3,
                     updated_at = $4, due_at = $5, assignee_id = $6, project_id = $7,
                     version = version + 1 WHERE id = $8",
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
            let after = audience(&tx, creator, task.project).await?;
            let fan = fan_out(Some(&before), Some(&after));
            let events = write_events(&tx, caller.id, &task, fan).await?;
            self.commit(tx).await?;
            return Ok((seen_by(task, caller.id), events));
        }
        Err(StoreError::Other(format!("task {id} kept moving")))
    }

    async fn delete_task(
        &self,
        caller: User,
        id: i64,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<Vec<Event>> {
        let mut c = self.client().await?;
        for _ in 0..MOVE_RETRIES {
            let tx = c.transaction().await?;
            let Some(task) = lock_task(&tx, id, None).await? else {
                tx.rollback().await?;
                continue;
            };
            let at = place(&tx, caller.id, task.project, task.user.id).await?;
            rule(at, at, task.user.id == caller.id).map_err(task_refused)?;
            check_if_match(&task, if_match.as_ref())?;
            let before = audience(&tx, task.user.id, task.project).await?;
            let stmt = tx.prepare_cached("DELETE FROM tasks WHERE id = $1").await?;
            tx.execute(&stmt, &[&id]).await?;
            let events = write_events(&tx, caller.id, &task, fan_out(Some(&before), None)).await?;
            self.commit(tx).await?;
            return Ok(events);
        }
        Err(StoreError::Other(format!("task {id} kept moving")))
    }
}

impl Postgres {
    /// A personal task through the group commit ([`super::create_group_commit`]).
    async fn create_personal(
        &self,
        mut task: Task,
        now: String,
        json_tail: String,
    ) -> Result<(Task, Vec<Event>)> {
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
        Ok((task, vec![event]))
    }

    /// A task in `project` through the projects' group commit
    /// ([`super::project_create_group_commit`]): its id set in `task`, and its events.
    /// `None` when its batch was refused by the server: the caller runs it alone.
    async fn create_in_project(
        &self,
        task: &mut Task,
        project: i64,
        now: String,
        own_tail: String,
        rule: TaskRule,
    ) -> Result<Option<Vec<Event>>> {
        // The other members' copy leaves the creator's email out (as `TaskJson`).
        let others_tail = if task.user.email.is_some() {
            let mut t = task.clone();
            t.user.email = None;
            match json_after_id(&t)? {
                Some(tail) => tail,
                None => return Ok(None),
            }
        } else {
            own_tail.clone()
        };
        // The rule, asked for every role the caller could turn out to have.
        let asked = |role: Option<Role>| rule(Place::Project(role), Place::Project(role), true);
        let allowed = ROLES
            .iter()
            .filter(|&&r| asked(r).is_ok())
            .fold(0_i32, |bits, &r| bits | (1 << role_bit(r)));
        let at = now_timestamp();
        let row = NewProjectRow {
            caller: task.user.id,
            project,
            title: task.title.clone(),
            description: task.description.clone(),
            completed: task.completed,
            now,
            due_at: task.due_at.as_ref().map(|d| d.0.clone()),
            assignee_id: task.assignee.as_ref().map(|a| a.id),
            own_tail: own_tail.clone(),
            others_tail: others_tail.clone(),
            at: at.clone(),
            allowed,
        };
        let (id, seqs) = match self.project_creates().create(row).await? {
            Made::Created { id, events } => (id, events),
            Made::Refused(role) => {
                return Err(match asked(role) {
                    Err(refusal) => task_refused(refusal),
                    Ok(()) => StoreError::Other(format!("a create by role {role:?} was refused")),
                });
            }
            Made::Alone => return Ok(None),
        };
        task.id = id;
        let own = format!(r#"{{"id":{id}{own_tail}"#);
        let others = format!(r#"{{"id":{id}{others_tail}"#);
        Ok(Some(
            seqs.into_iter()
                .map(|(user, seq)| {
                    let json = if user == task.user.id { &own } else { &others };
                    Event::new(seq, user, Action::Create, json, &at)
                })
                .collect(),
        ))
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
            }
            .into(),
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
