//! Group commit of task creates.
//!
//! A create is one statement ([`CREATE`]): it takes the owner's next event id (locking
//! their row), inserts the task and its event. On its own it commits in one round trip,
//! but the owner's row stays locked until that commit's WAL flush is done, so one user's
//! creates follow each other at most once per flush, whichever host sends them.
//!
//! So this process's creates go through one queue: a task takes the first create
//! waiting and every other one already queued (up to [`MAX_BATCH`]), and sends them as
//! one transaction, `BEGIN`, the statements, `COMMIT`, all pipelined: one round trip and
//! one flush for the batch. The statements go in owner-id order, so a batch takes its
//! row locks in ascending order, as the event pruner does (and a batch never waits for a
//! lock, see below, so it cannot deadlock). One user's creates in a batch run one after another in one
//! transaction, so their event ids are consecutive and in order; the batch commits as a
//! whole or not at all, and nobody hears of a create before its commit is flushed.
//!
//! A single create waiting alone runs as its statement, committed on its own. When the
//! server refuses a batch (any statement or the commit), nothing in it committed, and
//! each create is run again alone, so a create that fails does so by itself; when the
//! connection breaks, every create in the batch gets the error (committed or not is
//! unknown, so none is run again).
//!
//! No create waits inside the queue for a row lock: the statement takes its owner's row
//! with `FOR NO KEY UPDATE SKIP LOCKED`, and a create whose owner's row another
//! transaction holds (another host's batch, a password change, a slow transaction
//! someone left open) writes nothing and says so. It is put back in the queue after a
//! short pause, and tried again with a later batch, until [`LOCK_WAIT`] has passed since
//! it was first queued: then it is refused as `Unavailable` (a 503 the client may
//! retry). So one locked row delays that user's creates, and no one else's.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use futures_util::future::maybe_done;
use futures_util::poll;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Result, StoreError};

/// Most creates one transaction carries.
pub const MAX_BATCH: usize = 256;

/// Creates waiting; a full queue makes callers wait.
const QUEUE: usize = 4096;

/// How long a create may wait for its owner's row before it is refused; also every
/// connection's `lock_timeout` (see [`super::Postgres::connect`]).
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The longest pause before a create whose owner's row was locked is tried again.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(16);

/// The owner's next event id, the task and its event, in one statement. The event's
/// copy of the task is `{"id":`, the id the insert gave, and the rest of the task's JSON
/// (`$6`). It never waits for the owner's row: when another transaction holds it, nothing
/// is written. It answers the event id and task id (`NULL` when nothing was written), and
/// whether the owner exists and is not deleted (so `NULL`s with `true`: the row was
/// locked).
pub const CREATE: &str = r#"WITH l AS (
         SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL
         FOR NO KEY UPDATE SKIP LOCKED
     ), s AS (
         UPDATE users SET event_seq = event_seq + 1 WHERE id = (SELECT id FROM l)
         RETURNING event_seq
     ), t AS (
         INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at,
                            due_at, assignee_id)
         SELECT $1, $2, $3, $4, $5, $5, $8, $9 FROM s
         RETURNING id
     ), e AS (
         INSERT INTO events (user_id, seq, action, task_id, task, at)
         SELECT $1, s.event_seq, 'create', t.id, '{"id":' || t.id::text || $6::text, $7
         FROM s, t
     )
     SELECT (SELECT event_seq FROM s), (SELECT id FROM t),
            EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)"#;

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
    pub due_at: Option<String>,
    pub assignee_id: Option<i64>,
}

/// The event id and task id a create got; `None` when the owner does not exist (or is
/// deleted).
pub type Created = Option<(i64, i64)>;

/// What one run of [`CREATE`] did.
enum Outcome {
    Done(Created),
    /// Another transaction holds the owner's row: nothing was written.
    Locked,
}

struct Pending {
    row: NewRow,
    answer: oneshot::Sender<Result<Created>>,
    /// When it was first queued.
    queued: Instant,
    /// How many times its owner's row was found locked.
    tries: u32,
}

/// Transactions committed and writes they carried, shared with [`super::Postgres`];
/// and what held writes up.
#[derive(Default, Debug)]
pub struct Counts {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
    /// The longest purge transaction, in microseconds.
    pub longest_job_us: AtomicU64,
    /// Creates put back in the queue because their owner's row was locked.
    pub lock_retries: AtomicU64,
}

impl Counts {
    pub fn add(&self, commits: u64, writes: u64) {
        self.commits.fetch_add(commits, Ordering::Relaxed);
        self.writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// Records how long a purge transaction took.
    pub fn job_took(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.longest_job_us.fetch_max(us, Ordering::Relaxed);
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
        // Weak: the task ends when the last `Creates` is dropped.
        let requeue = queue.downgrade();
        tokio::spawn(run(pool, rx, requeue, counts));
        Creates { queue }
    }

    /// Queues `row` and waits for its batch to commit.
    pub async fn create(&self, row: NewRow) -> Result<Created> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            row,
            answer,
            queued: Instant::now(),
            tries: 0,
        };
        self.queue
            .send(pending)
            .await
            .map_err(|_| StoreError::Other("the create queue has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Other("the create queue dropped a create".into()))?
    }
}

async fn run(
    pool: Pool,
    mut rx: mpsc::Receiver<Pending>,
    requeue: mpsc::WeakSender<Pending>,
    counts: Arc<Counts>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        commit(&pool, jobs, &requeue, &counts).await;
    }
}

/// Answers `job` with what its statement did; a create whose owner's row was locked is
/// queued again after a pause, or refused once it has waited [`LOCK_WAIT`].
fn settle(
    job: Pending,
    out: Result<Outcome>,
    requeue: &mpsc::WeakSender<Pending>,
    counts: &Counts,
) {
    let mut job = match out {
        Ok(Outcome::Done(created)) => {
            let _ = job.answer.send(Ok(created));
            return;
        }
        Err(e) => {
            let _ = job.answer.send(Err(e));
            return;
        }
        Ok(Outcome::Locked) => job,
    };
    if job.queued.elapsed() >= LOCK_WAIT {
        let _ = job.answer.send(Err(StoreError::Unavailable(format!(
            "user {}'s row stayed locked by another transaction for {LOCK_WAIT:?}",
            job.row.user_id
        ))));
        return;
    }
    counts.lock_retries.fetch_add(1, Ordering::Relaxed);
    let pause = Duration::from_millis(1 << job.tries.min(4)).min(MAX_RETRY_PAUSE);
    job.tries += 1;
    let requeue = requeue.clone();
    tokio::spawn(async move {
        tokio::time::sleep(pause).await;
        let Some(queue) = requeue.upgrade() else {
            let _ = job.answer.send(Err(StoreError::Other(
                "the create queue has stopped".into(),
            )));
            return;
        };
        if let Err(mpsc::error::SendError(job)) = queue.send(job).await {
            let _ = job.answer.send(Err(StoreError::Other(
                "the create queue has stopped".into(),
            )));
        }
    });
}

/// Runs `jobs` in one transaction (or alone when there is one), answering each.
async fn commit(
    pool: &Pool,
    mut jobs: Vec<Pending>,
    requeue: &mpsc::WeakSender<Pending>,
    counts: &Counts,
) {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return refuse(jobs, e.into(), |j| j.answer),
    };
    if jobs.len() > 1 {
        // Row locks in ascending owner order; one owner's creates keep their order.
        jobs.sort_by_key(|j| j.row.user_id);
        match batch(&client, &jobs).await {
            Ok(out) => {
                let made = out
                    .iter()
                    .filter(|o| matches!(o, Outcome::Done(Some(_))))
                    .count();
                counts.add(1, made as u64);
                for (job, outcome) in jobs.into_iter().zip(out) {
                    settle(job, Ok(outcome), requeue, counts);
                }
                return;
            }
            // The connection is gone: whether the commit happened is unknown, so
            // nothing is run again.
            Err(e) if client.is_closed() => return refuse(jobs, e, |j| j.answer),
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
        if let Ok(outcome) = &out {
            counts.add(1, u64::from(matches!(outcome, Outcome::Done(Some(_)))));
        }
        settle(job, out, requeue, counts);
    }
}

/// Answers every job (through the sender `answer` takes from it) with `e`.
pub(super) fn refuse<J, T>(
    jobs: Vec<J>,
    e: StoreError,
    answer: impl Fn(J) -> oneshot::Sender<Result<T>>,
) {
    let message = match e {
        StoreError::Other(m) => m,
        e => e.to_string(),
    };
    for job in jobs {
        let _ = answer(job).send(Err(StoreError::Other(message.clone())));
    }
}

fn params(row: &NewRow) -> [&(dyn tokio_postgres::types::ToSql + Sync); 9] {
    [
        &row.user_id,
        &row.title,
        &row.description,
        &row.completed,
        &row.now,
        &row.json_tail,
        &row.at,
        &row.due_at,
        &row.assignee_id,
    ]
}

fn outcome(r: tokio_postgres::Row) -> Result<Outcome> {
    let seq: Option<i64> = r.try_get(0)?;
    let id: Option<i64> = r.try_get(1)?;
    let owner: bool = r.try_get(2)?;
    Ok(match (seq, id) {
        (Some(seq), Some(id)) => Outcome::Done(Some((seq, id))),
        _ if owner => Outcome::Locked,
        _ => Outcome::Done(None),
    })
}

/// One create, committed on its own. `query_one` reads up to ReadyForQuery, which comes
/// after the statement's implicit commit (flushed: synchronous_commit is on), or an
/// error if it failed.
async fn alone(client: &deadpool_postgres::Client, row: &NewRow) -> Result<Outcome> {
    let stmt = client.prepare_cached(CREATE).await?;
    outcome(client.query_one(&stmt, &params(row)).await?)
}

/// `BEGIN`, every create's statement and `COMMIT`, all sent before any answer is read,
/// then read back in order. Any error leaves nothing committed: the failed statement
/// aborts the transaction, the statements after it are refused, and `COMMIT` then rolls
/// back.
async fn batch(client: &deadpool_postgres::Client, jobs: &[Pending]) -> Result<Vec<Outcome>> {
    let stmt = client.prepare_cached(CREATE).await?;
    let params: Vec<_> = jobs.iter().map(|j| params(&j.row)).collect();
    let mut begin = pin!(maybe_done(client.batch_execute("BEGIN")));
    let mut statements: Vec<_> = params
        .iter()
        .map(|p| Box::pin(maybe_done(client.query_one(&stmt, p.as_slice()))))
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
        out.push(outcome(answer(s.as_mut().take_output())?)?);
    }
    commit.as_mut().await;
    answer(commit.as_mut().take_output())?;
    Ok(out)
}

/// The output of a finished request.
pub(super) fn answer<T>(out: Option<std::result::Result<T, tokio_postgres::Error>>) -> Result<T> {
    out.ok_or_else(|| StoreError::Other("a pipelined request lost its answer".into()))?
        .map_err(Into::into)
}
