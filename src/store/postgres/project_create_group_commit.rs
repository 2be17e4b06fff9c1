//! Group commit of task creates in projects.
//!
//! A create in a project writes one event per member, each under that member's next
//! event id, so it locks every member's `users` row until its commit's WAL flush is
//! done: one transaction per create would let a project take one create per flush,
//! however many members write at once. So this process's project creates go through one
//! queue, as personal ones do ([`super::create_group_commit`]): a task takes every create
//! waiting (up to [`MAX_BATCH`], from any projects) and runs them as one transaction,
//! `BEGIN`, three statements and `COMMIT`, all pipelined: one round trip and one flush
//! for the batch.
//!
//! 1. [`LOCK_PROJECTS`]: the batch's projects, `FOR SHARE`, by id. A membership change
//!    or a project's deletion takes its row `FOR UPDATE` (an account's deletion,
//!    `FOR NO KEY UPDATE`), so from here to the commit no member joins, leaves or
//!    changes role in them.
//! 2. [`LOCK_MEMBERS`]: their members' `users` rows, by id, in one statement.
//! 3. [`INSERT`]: under those locks (a statement of its own, so it reads the memberships
//!    as the locks left them), each caller's role; the creates whose caller's role the
//!    rule allows get their task, each member's `event_seq` moves by the number of
//!    events they get, in one `UPDATE`, and the events go in, in one `INSERT`: a
//!    member's ids are consecutive, in the batch's order, and gapless. The creator's copy
//!    of a task carries their email, the other members' copies do not
//!    ([`crate::store::tasks::TaskJson`]): each is the task's JSON after its id, sent for
//!    both, with the id the insert took spliced in.
//!
//! The rule ([`crate::store::tasks::TaskRule`]) stays in Rust: before sending, it is asked
//! for each role a caller could have, and the statement gets the set it allows; a create
//! it refuses writes nothing, the others in the batch are not touched, and its caller
//! hears which role it found, to ask the rule again for the refusal.
//!
//! No deadlock: the batch takes its locks as every other writer of several users' events
//! does, projects first, then users, each set by id in one statement; the personal group
//! commit never waits for a lock; and nothing holding a row lock ever waits for this
//! queue (a create is never made inside another transaction). So the batch may wait for
//! a lock, for as long as the holder's transaction lasts, at most `lock_timeout`
//! ([`super::create_group_commit::LOCK_WAIT`]); then the whole batch fails as
//! `Unavailable` (nothing committed: a 503 the clients may retry). Any other error from
//! the server rolls the batch back and each create is run again alone, in a transaction
//! of its own ([`super::tasks`]), so a create that fails does so by itself; when the
//! connection breaks, every create in the batch gets the error (committed or not is
//! unknown, so none is run again).

use std::pin::pin;
use std::sync::Arc;

use deadpool_postgres::Pool;
use futures_util::future::maybe_done;
use futures_util::poll;
use tokio::sync::{mpsc, oneshot};

use super::create_group_commit::{Counts, answer, refuse};
use crate::model::Role;
use crate::store::{Result, StoreError};

/// Most creates one transaction carries.
pub const MAX_BATCH: usize = 256;

/// Creates waiting; a full queue makes callers wait.
const QUEUE: usize = 4096;

const LOCK_PROJECTS: &str = "SELECT id FROM projects WHERE id = ANY($1) ORDER BY id FOR SHARE";

const LOCK_MEMBERS: &str = "SELECT id FROM users WHERE id IN (
         SELECT user_id FROM project_members WHERE project_id = ANY($1))
     ORDER BY id FOR NO KEY UPDATE";

/// The batch's writes, one row per create in the batch's order: the caller's role
/// ([`role_bit`]'s numbering), and for a create made its task id and its events, each
/// member's id and event id, by member id. `allowed` has bit [`role_bit`] set for each
/// role the rule lets create.
const INSERT: &str = r#"WITH j AS MATERIALIZED (
         SELECT j.*, coalesce((
                    SELECT CASE m.role WHEN 'viewer' THEN 1 WHEN 'editor' THEN 2
                                       WHEN 'admin' THEN 3 WHEN 'owner' THEN 4 END
                    FROM project_members m
                    WHERE m.project_id = j.project AND m.user_id = j.caller), 0) AS role
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bool[],
                     $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[],
                     $11::text[], $12::int[])
              WITH ORDINALITY AS j(caller, project, title, description, completed, now,
                                   due_at, assignee, own_tail, others_tail, at, allowed, n)
     ), ok AS MATERIALIZED (
         SELECT j.n, j.caller, j.project, j.own_tail, j.others_tail, j.at,
                j.title, j.description, j.completed, j.now, j.due_at, j.assignee,
                nextval(pg_get_serial_sequence('tasks', 'id')) AS id
         FROM j WHERE (j.allowed >> j.role) & 1 = 1
         ORDER BY j.n
     ), t AS (
         INSERT INTO tasks (id, user_id, title, description, completed, created_at,
                            updated_at, due_at, assignee_id, project_id)
         SELECT id, caller, title, description, completed, now, now, due_at, assignee, project
         FROM ok
     ), fan AS MATERIALIZED (
         SELECT m.user_id, ok.id, ok.at,
                '{"id":' || ok.id::text
                    || CASE WHEN m.user_id = ok.caller THEN ok.own_tail ELSE ok.others_tail END
                    AS task,
                row_number() OVER (PARTITION BY m.user_id ORDER BY ok.n) AS k,
                count(*) OVER (PARTITION BY m.user_id) AS c
         FROM ok JOIN project_members m ON m.project_id = ok.project
     ), b AS (
         UPDATE users u SET event_seq = u.event_seq + f.c
         FROM (SELECT DISTINCT user_id, c FROM fan) f
         WHERE u.id = f.user_id AND u.deleted_at IS NULL
         RETURNING u.id, u.event_seq - f.c AS base
     ), e AS (
         INSERT INTO events (user_id, seq, action, task_id, task, at)
         SELECT fan.user_id, b.base + fan.k, 'create', fan.id, fan.task, fan.at
         FROM fan JOIN b ON b.id = fan.user_id
         RETURNING user_id, seq, task_id
     ), per_task AS (
         SELECT task_id, array_agg(user_id ORDER BY user_id) AS users,
                array_agg(seq ORDER BY user_id) AS seqs
         FROM e GROUP BY task_id
     )
     SELECT j.role, ok.id, p.users, p.seqs
     FROM j LEFT JOIN ok ON ok.n = j.n LEFT JOIN per_task p ON p.task_id = ok.id
     ORDER BY j.n"#;

/// The bit of `role` (`None`: not a member) in [`INSERT`]'s `allowed`.
pub fn role_bit(role: Option<Role>) -> u32 {
    match role {
        None => 0,
        Some(Role::Viewer) => 1,
        Some(Role::Editor) => 2,
        Some(Role::Admin) => 3,
        Some(Role::Owner) => 4,
    }
}

/// Every role a caller could have, as [`role_bit`] numbers them.
pub const ROLES: [Option<Role>; 5] = [
    None,
    Some(Role::Viewer),
    Some(Role::Editor),
    Some(Role::Admin),
    Some(Role::Owner),
];

fn role_of_bit(bit: i32) -> Result<Option<Role>> {
    usize::try_from(bit)
        .ok()
        .and_then(|b| ROLES.get(b).copied())
        .ok_or_else(|| StoreError::Other(format!("bad role number {bit}")))
}

/// One create's parameters.
pub struct NewProjectRow {
    pub caller: i64,
    pub project: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub now: String,
    pub due_at: Option<String>,
    pub assignee_id: Option<i64>,
    /// The task's JSON after its id, as its creator sees it.
    pub own_tail: String,
    /// The same as every other member sees it.
    pub others_tail: String,
    /// The events' time.
    pub at: String,
    /// The roles the rule lets create, a bit each ([`role_bit`]).
    pub allowed: i32,
}

/// What became of a create.
#[derive(Debug)]
pub enum Made {
    /// The task's id, and its events: each member's id and event id.
    Created { id: i64, events: Vec<(i64, i64)> },
    /// The rule refused the caller's role (`None`: not a member); nothing was written.
    Refused(Option<Role>),
    /// The batch was rolled back by an error of the server's: run the create alone.
    Alone,
}

struct Pending {
    row: NewProjectRow,
    answer: oneshot::Sender<Result<Made>>,
}

/// The queue's sending end; the committing task ends when every sender is gone.
#[derive(Clone)]
pub struct ProjectCreates {
    queue: mpsc::Sender<Pending>,
}

impl ProjectCreates {
    /// Starts the committing task (on the current tokio runtime).
    pub fn start(pool: Pool, counts: Arc<Counts>) -> ProjectCreates {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx, counts));
        ProjectCreates { queue }
    }

    /// Queues `row` and waits for its batch to commit.
    pub async fn create(&self, row: NewProjectRow) -> Result<Made> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Pending { row, answer })
            .await
            .map_err(|_| StoreError::Other("the project create queue has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Other("the project create queue dropped a create".into()))?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Pending>, counts: Arc<Counts>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        commit(&pool, jobs, &counts).await;
    }
}

/// Runs `jobs` in one transaction, answering each.
async fn commit(pool: &Pool, jobs: Vec<Pending>, counts: &Counts) {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return refuse(jobs, e.into(), |j| j.answer),
    };
    match batch(&client, &jobs).await {
        Ok(made) => {
            let n = made
                .iter()
                .filter(|m| matches!(m, Made::Created { .. }))
                .count();
            counts.add(1, n as u64);
            for (job, made) in jobs.into_iter().zip(made) {
                let _ = job.answer.send(Ok(made));
            }
        }
        // Whether the commit happened is unknown: nothing is run again.
        Err(e) if client.is_closed() => refuse(jobs, e, |j| j.answer),
        // A lock held past `lock_timeout`: nothing committed, and each create alone
        // would wait as long again.
        Err(StoreError::Unavailable(m)) => {
            for job in jobs {
                let _ = job.answer.send(Err(StoreError::Unavailable(m.clone())));
            }
        }
        // The server refused something: nothing committed, so each create again, alone.
        Err(e) => {
            tracing::warn!(
                error = %e,
                creates = jobs.len(),
                "a batch of project creates was refused; running each alone"
            );
            for job in jobs {
                let _ = job.answer.send(Ok(Made::Alone));
            }
        }
    }
}

/// `BEGIN`, the three statements and `COMMIT`, all sent before any answer is read. Any
/// error leaves nothing committed: the failed statement aborts the transaction, the
/// statements after it are refused, and `COMMIT` then rolls back.
async fn batch(client: &deadpool_postgres::Client, jobs: &[Pending]) -> Result<Vec<Made>> {
    let lock_projects = client.prepare_cached(LOCK_PROJECTS).await?;
    let lock_members = client.prepare_cached(LOCK_MEMBERS).await?;
    let insert = client.prepare_cached(INSERT).await?;
    let rows: Vec<&NewProjectRow> = jobs.iter().map(|j| &j.row).collect();
    let mut projects: Vec<i64> = rows.iter().map(|r| r.project).collect();
    projects.sort_unstable();
    projects.dedup();
    let caller: Vec<i64> = rows.iter().map(|r| r.caller).collect();
    let project: Vec<i64> = rows.iter().map(|r| r.project).collect();
    let title: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    let description: Vec<Option<&str>> = rows.iter().map(|r| r.description.as_deref()).collect();
    let completed: Vec<bool> = rows.iter().map(|r| r.completed).collect();
    let now: Vec<&str> = rows.iter().map(|r| r.now.as_str()).collect();
    let due_at: Vec<Option<&str>> = rows.iter().map(|r| r.due_at.as_deref()).collect();
    let assignee: Vec<Option<i64>> = rows.iter().map(|r| r.assignee_id).collect();
    let own_tail: Vec<&str> = rows.iter().map(|r| r.own_tail.as_str()).collect();
    let others_tail: Vec<&str> = rows.iter().map(|r| r.others_tail.as_str()).collect();
    let at: Vec<&str> = rows.iter().map(|r| r.at.as_str()).collect();
    let allowed: Vec<i32> = rows.iter().map(|r| r.allowed).collect();
    let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 12] = [
        &caller,
        &project,
        &title,
        &description,
        &completed,
        &now,
        &due_at,
        &assignee,
        &own_tail,
        &others_tail,
        &at,
        &allowed,
    ];
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&projects];
    let mut begin = pin!(maybe_done(client.batch_execute("BEGIN")));
    let mut locked = pin!(maybe_done(client.execute(&lock_projects, &lock_params)));
    let mut members = pin!(maybe_done(client.execute(&lock_members, &lock_params)));
    let mut inserted = pin!(maybe_done(client.query(&insert, &insert_params)));
    let mut commit = pin!(maybe_done(client.batch_execute("COMMIT")));
    // tokio-postgres sends a request when its future is first polled: poll each once,
    // in order, so the whole transaction goes out in one write.
    let _ = poll!(begin.as_mut());
    let _ = poll!(locked.as_mut());
    let _ = poll!(members.as_mut());
    let _ = poll!(inserted.as_mut());
    let _ = poll!(commit.as_mut());
    // The answers come back in the same order.
    begin.as_mut().await;
    answer(begin.as_mut().take_output())?;
    locked.as_mut().await;
    answer(locked.as_mut().take_output())?;
    members.as_mut().await;
    answer(members.as_mut().take_output())?;
    inserted.as_mut().await;
    let out = answer(inserted.as_mut().take_output())?;
    commit.as_mut().await;
    answer(commit.as_mut().take_output())?;
    if out.len() != jobs.len() {
        return Err(StoreError::Other(format!(
            "a batch of {} project creates answered {} rows",
            jobs.len(),
            out.len()
        )));
    }
    out.iter().map(made).collect()
}

fn made(r: &tokio_postgres::Row) -> Result<Made> {
    let role = role_of_bit(r.try_get(0)?)?;
    let Some(id) = r.try_get::<_, Option<i64>>(1)? else {
        return Ok(Made::Refused(role));
    };
    let users: Vec<i64> = r.try_get::<_, Option<Vec<i64>>>(2)?.unwrap_or_default();
    let seqs: Vec<i64> = r.try_get::<_, Option<Vec<i64>>>(3)?.unwrap_or_default();
    Ok(Made::Created {
        id,
        events: users.into_iter().zip(seqs).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_bits_match_the_statements_numbering() {
        for (bit, role) in ROLES.iter().enumerate() {
            assert_eq!(role_bit(*role) as usize, bit);
            assert_eq!(role_of_bit(bit as i32).unwrap(), *role);
            // INSERT numbers the roles by their names, as `Role::as_str` spells them.
            if let Some(r) = role {
                assert!(INSERT.contains(&format!("WHEN '{}' THEN {bit}", r.as_str())));
            }
        }
        assert!(role_of_bit(5).is_err());
    }
}
