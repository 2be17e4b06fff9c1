//! The single writer: group commit on one connection.
//!
//! Every write of this process is a job sent to one thread that owns the writer
//! connection. The thread takes the first job waiting, opens a `BEGIN IMMEDIATE`
//! transaction, and runs in it that job and every other job already queued (up to
//! [`MAX_BATCH`]), each inside its own savepoint: a job that fails (an `If-Match` 412, a
//! uniqueness conflict, a panic) rolls back to its savepoint and takes nothing else with
//! it. Then one `COMMIT` — with `synchronous=FULL`, one sync of the WAL — makes the whole
//! batch durable, and only then does each job's caller hear its answer. Requests that
//! arrive while a commit is syncing wait in the queue and form the next batch, so under
//! load the cost of a sync is shared by every write it covers, and when idle a write
//! waits for nothing but its own commit.
//!
//! Per-user event ids stay gapless and ordered: jobs run one after another on one
//! connection, each seeing the ones before it in the batch, exactly as if each had its
//! own transaction. If the batch cannot commit (or SQLite rolls the whole transaction back
//! under a job, as on a full disk), every job in it is answered with the error: nothing
//! is acknowledged that is not on disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{Result, StoreError};

/// Most jobs one transaction carries, so a long queue cannot hold the write lock (which
/// other processes wait on) or the answers of the first jobs for long.
pub const MAX_BATCH: usize = 256;

/// Jobs waiting for the writer; a full queue makes callers wait (back-pressure).
const QUEUE: usize = 4096;

/// What a job left to do once its batch's fate is known: answer its caller with its own
/// result, or with the commit's error.
type Finish = Box<dyn FnOnce(Result<()>) + Send>;

/// A write waiting for the writer.
trait Job: Send {
    /// Runs inside the batch's transaction; says whether it succeeded, and how to answer.
    fn run(self: Box<Self>, tx: &Transaction) -> (bool, Finish);
    /// Answers without running: the batch could not start.
    fn refuse(self: Box<Self>, e: StoreError);
}

struct Pending<F, T> {
    f: F,
    answer: oneshot::Sender<Result<T>>,
}

impl<F, T> Job for Pending<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction) -> (bool, Finish) {
        let Pending { f, answer } = *self;
        let out = catch_unwind(AssertUnwindSafe(|| f(tx)))
            .unwrap_or_else(|_| Err(StoreError::Other("a write panicked".into())));
        let ok = out.is_ok();
        let finish: Finish = Box::new(move |committed| {
            let _ = answer.send(match (out, committed) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) => Err(e),
                // A failed job changed nothing; its own error is the answer.
                (Err(e), _) => Err(e),
            });
        });
        (ok, finish)
    }

    fn refuse(self: Box<Self>, e: StoreError) {
        let _ = self.answer.send(Err(e));
    }
}

/// Commits and writes counted since start (both only ever grow).
#[derive(Default, Debug)]
pub struct WriteStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Jobs that succeeded in a committed transaction.
    pub writes: AtomicU64,
    /// The longest any one job ran, in microseconds: every write queued meanwhile waited
    /// at least that long (whether its batch then committed or not).
    pub longest_job_us: AtomicU64,
}

/// The sending side; the thread ends when every clone is gone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<WriteStats>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` from now on.
    pub fn start(conn: Connection) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let stats = Arc::new(WriteStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("tasklane-writer".into())
            .spawn(move || run(conn, queue, &thread_stats))?;
        Ok(Writer { jobs, stats })
    }

    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Jobs waiting in the queue (not counting one being run).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Runs `f` in the next batch and returns its result once the batch is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let job: Box<dyn Job> = Box::new(Pending { f, answer });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Other("the writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Other("the writer dropped a write".into()))?
    }
}

fn run(mut conn: Connection, mut queue: mpsc::Receiver<Box<dyn Job>>, stats: &WriteStats) {
    // A job taken from the queue but not run, because the batch before it ended early.
    let mut next: Option<Box<dyn Job>> = None;
    loop {
        let Some(first) = next.take().or_else(|| queue.blocking_recv()) else {
            return; // every sender is gone: the store was dropped
        };
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                // Could not even start (another process held the lock past the busy
                // timeout, or I/O failed): this job fails, the next ones try again.
                tracing::error!(error = %e, "a write batch could not begin");
                first.refuse(e.into());
                continue;
            }
        };
        let mut done: Vec<(bool, Finish)> = Vec::new();
        let mut job = Some(first);
        let mut aborted: Option<StoreError> = None;
        while let Some(j) = job.take() {
            let started = std::time::Instant::now();
            let outcome = run_one(&tx, j);
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            stats.longest_job_us.fetch_max(took, Ordering::Relaxed);
            match outcome {
                Ok(outcome) => done.push(outcome),
                Err((outcome, e)) => {
                    // SQLite rolled the whole transaction back under this job: everything
                    // before it in the batch is gone too.
                    done.push(outcome);
                    aborted = Some(e);
                    break;
                }
            }
            if done.len() >= MAX_BATCH {
                break;
            }
            job = queue.try_recv().ok();
        }
        if aborted.is_none()
            && let Some(j) = job
        {
            next = Some(j);
        }
        let committed = match aborted {
            Some(e) => {
                drop(tx);
                Err(e)
            }
            None => super::task_list::flush_search(&tx)
                .and_then(|()| tx.commit())
                .map_err(StoreError::from),
        };
        if committed.is_ok() {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            let writes = done.iter().filter(|(ok, _)| *ok).count() as u64;
            stats.writes.fetch_add(writes, Ordering::Relaxed);
        } else if let Err(e) = &committed {
            tracing::error!(error = %e, jobs = done.len(), "a write batch did not commit");
        }
        for (_, finish) in done {
            finish(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Other(format!("not committed: {e}"))),
            });
        }
    }
}

/// Runs one job inside its own savepoint. `Err` means the enclosing transaction is gone.
#[allow(clippy::type_complexity)]
fn run_one(
    tx: &Transaction,
    job: Box<dyn Job>,
) -> std::result::Result<(bool, Finish), ((bool, Finish), StoreError)> {
    if let Err(e) = tx
        .prepare_cached("SAVEPOINT job")
        .and_then(|mut s| s.execute([]))
    {
        let message = e.to_string();
        job.refuse(e.into());
        let nothing: Finish = Box::new(|_| {});
        return Err(((false, nothing), StoreError::Other(message)));
    }
    let (ok, finish) = job.run(tx);
    if tx.is_autocommit() {
        return Err((
            (false, finish),
            StoreError::Other("the transaction was rolled back".into()),
        ));
    }
    // Cached statements: parsing these for every job cost more than running them.
    let end = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([]));
    let ended = if ok {
        end("RELEASE job")
    } else {
        end("ROLLBACK TO job").and_then(|_| end("RELEASE job"))
    };
    match ended {
        Ok(_) => Ok((ok, finish)),
        Err(e) => Err(((false, finish), e.into())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use crate::store::health::HealthStore;
    use crate::store::sqlite::Sqlite as Store;
    use crate::store::{StoreError, Synchronous};

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("t.db"), 2, Synchronous::Full).unwrap()
    }

    async fn count(store: &Store) -> i64 {
        store
            .run(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    /// Holds the writer inside a job until the returned sender is dropped or sent to, and
    /// returns once the job is running: everything queued meanwhile forms the next batch.
    async fn hold_writer(store: &Store) -> (std_mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, wait) = std_mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let s = store.clone();
        let held = tokio::spawn(async move {
            s.write(move |_| {
                let _ = started.send(());
                let _ = wait.recv_timeout(Duration::from_secs(10));
                Ok(())
            })
            .await
            .unwrap();
        });
        running.await.unwrap();
        (release, held)
    }

    /// Waits until `n` jobs wait in the writer's queue: spawned writes reach it in the order
    /// they are awaited here, whatever the machine's load.
    async fn queued(store: &Store, n: usize) {
        for _ in 0..10_000 {
            if store.writer.queued() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{n} writes never reached the queue");
    }

    fn insert(
        store: &Store,
        key: &'static str,
    ) -> tokio::task::JoinHandle<crate::store::Result<()>> {
        let s = store.clone();
        tokio::spawn(async move {
            s.write(move |tx| {
                tx.execute("INSERT INTO settings (key, value) VALUES (?1, 'x')", [key])?;
                Ok(())
            })
            .await
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_write_in_a_batch_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let before = count(&store).await;
        let (release, held) = hold_writer(&store).await;
        let (commits_before, _) = store.write_stats();

        // Queued while the writer is busy: these five form one batch.
        let a = insert(&store, "a");
        queued(&store, 1).await;
        let dup = insert(&store, "a"); // a uniqueness conflict with the write before it
        queued(&store, 2).await;
        let s = store.clone();
        let refused = tokio::spawn(async move {
            s.write(|tx| {
                tx.execute("INSERT INTO settings (key, value) VALUES ('c', 'x')", [])?;
                Err::<(), _>(StoreError::Stale { current: 7 })
            })
            .await
        });
        queued(&store, 3).await;
        let s = store.clone();
        let panicked = tokio::spawn(async move {
            s.write(|tx| -> crate::store::Result<()> {
                tx.execute("INSERT INTO settings (key, value) VALUES ('d', 'x')", [])?;
                panic!("a bug in one request");
            })
            .await
        });
        queued(&store, 4).await;
        let b = insert(&store, "b");
        queued(&store, 5).await;
        release.send(()).unwrap();
        held.await.unwrap();

        assert!(a.await.unwrap().is_ok());
        assert!(matches!(dup.await.unwrap(), Err(StoreError::Other(_))));
        assert!(matches!(
            refused.await.unwrap(),
            Err(StoreError::Stale { current: 7 })
        ));
        assert!(matches!(panicked.await.unwrap(), Err(StoreError::Other(_))));
        assert!(b.await.unwrap().is_ok());
        // The holding job's batch, then one batch for the five.
        let (commits, _) = store.write_stats();
        assert_eq!(commits - commits_before, 1, "the five shared one commit");
        // Only the two good inserts are there: the failed ones took nothing with them
        // and nothing else down.
        assert_eq!(count(&store).await, before + 2);
        let keys: Vec<String> = store
            .run(|c| {
                let mut st =
                    c.prepare("SELECT key FROM settings WHERE value = 'x' ORDER BY key")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(keys, ["a", "b"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_in_one_batch_see_each_other_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let (release, held) = hold_writer(&store).await;
        let mut seen = Vec::new();
        for i in 0..20 {
            let s = store.clone();
            seen.push(tokio::spawn(async move {
                s.write(move |tx| {
                    let n: i64 = tx.query_row(
                        "SELECT count(*) FROM settings WHERE key LIKE 'seq-%'",
                        [],
                        |r| r.get(0),
                    )?;
                    tx.execute(
                        "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                        [format!("seq-{i:02}"), n.to_string()],
                    )?;
                    Ok(n)
                })
                .await
            }));
            // Queue them in a known order.
            queued(&store, i + 1).await;
        }
        release.send(()).unwrap();
        held.await.unwrap();
        let mut counts = Vec::new();
        for s in seen {
            counts.push(s.await.unwrap().unwrap());
        }
        assert_eq!(counts, (0..20).collect::<Vec<i64>>());
    }
}
