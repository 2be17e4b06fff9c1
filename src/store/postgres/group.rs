//! Group commit of task creates.
//!
//! A create is one statement ([`CREATE`]): it takes the owner's next event id (locking
//! their row), inserts the task and its event. On its own it commits in one round trip,
//! but the owner's row stays locked until that commit's WAL flush is done, so one user's
//! creates follow each other at most once per flush, whichever host sends them, and
//! concurrent creates of one user pile up on that row lock inside PostgreSQL.
//!
//! So this process's creates go through one queue: a task takes the first create
//! waiting and every other one already queued (up to [`MAX_BATCH`]), and sends them as
//! one transaction, `BEGIN`, the statements, `COMMIT`, all pipelined: one round trip and
//! one flush for the batch. The statements go in owner-id order, so a batch takes its
//! row locks in ascending order, as the event pruner does: two hosts' batches wait for
//! each other but never deadlock (every other transaction locks a single user's row
//! before rows under it). One user's creates in a batch run one after another in one
//! transaction, so their event ids are consecutive and in order; the batch commits as a
//! whole or not at all, and nobody hears of a create before its commit is flushed.
//!
//! A single create waiting alone runs as its statement, committed on its own. When the
//! server refuses a batch (any statement or the commit), nothing in it committed, and
//! each create is run again alone, so a create that fails does so by itself; when the
//! connection breaks, every create in the batch gets the error (committed or not is
//! unknown, so none is run again).

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::Pool;
use futures_util::future::maybe_done;
use futures_util::poll;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Result, StoreError};

/// Most creates one transaction carries.
pub const MAX_BATCH: usize = 256;

/// Creates waiting; a full queue makes callers wait.
const QUEUE: usize = 4096;

/// The owner's next event id, the task and its event, in one statement. The event's
/// copy of the task is `{"id":`, the id the insert gave, and the rest of the task's JSON
/// (`$6`). No row when the owner does not exist (nothing is written).
pub const CREATE: &str = r#"WITH s AS (
         UPDATE users SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq
     ), t AS (
         INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $5 FROM s
         RETURNING id
     ), e AS (
         INSERT INTO events (user_id, seq, action, task_id, task, at)
         SELECT $1, s.event_seq, 'create', t.id, '{"id":' || t.id::text || $6::text, $7
         FROM s, t
     )
     SELECT s.event_seq, t.id FROM s, t"#;

/// One create's parameters, in [`CREATE`]'s order.
pub struct NewRow {
    pub user_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub now: String,
    /// The task's JSON after its id.
    pub json_tail: String,
    pub at: String,
}

/// The event id and task id a create got; `None` when the owner does not exist.
pub type Created = Option<(i64, i64)>;

struct Pending {
    row: NewRow,
    answer: oneshot::Sender<Result<Created>>,
}

/// Transactions committed and writes they carried, shared with [`super::Postgres`].
#[derive(Default, Debug)]
pub struct Counts {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
}

impl Counts {
    pub fn add(&self, commits: u64, writes: u64) {
        self.commits.fetch_add(commits, Ordering::Relaxed);
        self.writes.fetch_add(writes, Ordering::Relaxed);
    }
}

/// The queue's sending end; the committing task ends when every sender is gone.
#[derive(Clone)]
pub struct Creates {
    queue: mpsc::Sender<Pending>,
}

impl Creates {
    /// Starts the committing task (on the current tokio runtime).
    pub fn start(pool: Pool, counts: Arc<Counts>) -> Creates {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx, counts));
        Creates { queue }
    }

    /// Queues `row` and waits for its batch to commit.
    pub async fn create(&self, row: NewRow) -> Result<Created> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Pending { row, answer })
            .await
            .map_err(|_| StoreError::Other("the create queue has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Other("the create queue dropped a create".into()))?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Pending>, counts: Arc<Counts>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        commit(&pool, jobs, &counts).await;
    }
}

/// Runs `jobs` in one transaction (or alone when there is one), answering each.
async fn commit(pool: &Pool, mut jobs: Vec<Pending>, counts: &Counts) {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return refuse(jobs, e.into()),
    };
    if jobs.len() > 1 {
        // Row locks in ascending owner order; one owner's creates keep their order.
        jobs.sort_by_key(|j| j.row.user_id);
        match batch(&client, &jobs).await {
            Ok(out) => {
                counts.add(1, out.iter().flatten().count() as u64);
                for (job, created) in jobs.into_iter().zip(out) {
                    let _ = job.answer.send(Ok(created));
                }
                return;
            }
            // The connection is gone: whether the commit happened is unknown, so
            // nothing is run again.
            Err(e) if client.is_closed() => return refuse(jobs, e),
            // The server refused something: nothing committed, so each create again,
            // alone, with its own answer.
            Err(e) => tracing::warn!(
                error = %e,
                creates = jobs.len(),
                "a batch of creates was refused; running each alone"
            ),
        }
    }
    for job in jobs {
        let out = alone(&client, &job.row).await;
        if let Ok(made) = &out {
            counts.add(1, u64::from(made.is_some()));
        }
        let _ = job.answer.send(out);
    }
}

/// Answers every job with `e`.
fn refuse(jobs: Vec<Pending>, e: StoreError) {
    let message = match e {
        StoreError::Other(m) => m,
        e => e.to_string(),
    };
    for job in jobs {
        let _ = job.answer.send(Err(StoreError::Other(message.clone())));
    }
}

fn params(row: &NewRow) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
    [
        &row.user_id,
        &row.title,
        &row.description,
        &row.completed,
        &row.now,
        &row.json_tail,
        &row.at,
    ]
}

fn created(row: Option<tokio_postgres::Row>) -> Result<Created> {
    match row {
        Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?))),
        None => Ok(None),
    }
}

/// One create, committed on its own. `query_opt` reads up to ReadyForQuery, which comes
/// after the statement's implicit commit (flushed: synchronous_commit is on), or an
/// error if it failed.
async fn alone(client: &deadpool_postgres::Client, row: &NewRow) -> Result<Created> {
    let stmt = client.prepare_cached(CREATE).await?;
    created(client.query_opt(&stmt, &params(row)).await?)
}

/// `BEGIN`, every create's statement and `COMMIT`, all sent before any answer is read,
/// then read back in order. Any error leaves nothing committed: the failed statement
/// aborts the transaction, the statements after it are refused, and `COMMIT` then rolls
/// back.
async fn batch(client: &deadpool_postgres::Client, jobs: &[Pending]) -> Result<Vec<Created>> {
    let stmt = client.prepare_cached(CREATE).await?;
    let params: Vec<_> = jobs.iter().map(|j| params(&j.row)).collect();
    let mut begin = pin!(maybe_done(client.batch_execute("BEGIN")));
    let mut statements: Vec<_> = params
        .iter()
        .map(|p| Box::pin(maybe_done(client.query_opt(&stmt, p.as_slice()))))
        .collect();
    let mut commit = pin!(maybe_done(client.batch_execute("COMMIT")));
    // tokio-postgres sends a request when its future is first polled: poll each once,
    // in order, so the whole transaction goes out in one write.
    let _ = poll!(begin.as_mut());
    for s in &mut statements {
        let _ = poll!(s.as_mut());
    }
    let _ = poll!(commit.as_mut());
    // The answers come back in the same order.
    begin.as_mut().await;
    answer(begin.as_mut().take_output())?;
    let mut out = Vec::with_capacity(statements.len());
    for s in &mut statements {
        s.as_mut().await;
        out.push(created(answer(s.as_mut().take_output())?)?);
    }
    commit.as_mut().await;
    answer(commit.as_mut().take_output())?;
    Ok(out)
}

/// The output of a finished request.
fn answer<T>(out: Option<std::result::Result<T, tokio_postgres::Error>>) -> Result<T> {
    out.ok_or_else(|| StoreError::Other("a pipelined request lost its answer".into()))?
        .map_err(Into::into)
}
