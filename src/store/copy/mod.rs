//! `tasklane copy`: a whole deployment from one database to another, either backend to
//! either backend, losslessly.
//!
//! The source is read in one snapshot (SQLite: one read transaction; PostgreSQL: one
//! `REPEATABLE READ` transaction), table by table in primary-key order, as neutral
//! [`Cell`]s; the target is written in one transaction (SQLite: on its writer; PostgreSQL:
//! binary `COPY`), so a copy that fails leaves the target as empty as it found it. Rows
//! keep their ids, so the target's `AUTOINCREMENT`/identity high-water marks are set past
//! the source's (an id is never handed out twice, even one of a deleted task).
//!
//! What travels is every table the schema has ([`TABLES`]): settings (the JWT signing
//! secret and the database's identity, so tokens stay valid), accounts with their password
//! hashes, tasks, the event history (streams resume with `since`, no `reset`), refresh
//! token families, API tokens, idempotency keys, throttle counts and stream tickets (as
//! hashes). Both sides' actual tables and columns are compared with [`TABLES`] before
//! anything moves, so a column added by a later migration and not taught here stops the
//! copy instead of being dropped.
//!
//! The check at the end reads the target back, in the same order, and compares each
//! table's row count and SHA-256 over its cells with what was read from the source.
//!
//! `tasklane import-django` writes through the same import ([`Target::NoAccounts`]), its
//! rows made by the named builders ([`UserRow`], [`TaskRow`], [`SettingRow`]).
//!
//! Here are the copy's flow and its schema check; `tables.rs` has the tables and the row
//! builders, `chunk.rs` the cells and chunks that travel, `summary.rs` the check's sums.
//! Each backend's `copy.rs` reads and writes them.

mod chunk;
mod summary;
mod tables;

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Result, Store, StoreError};
pub use chunk::{CHUNK_BYTES, CHUNK_ROWS, Cell, Chunk, Chunker, cell_from_sqlite};
use summary::Tally;
pub use summary::{Summary, summarize};
pub use tables::{
    Kind, SETTINGS, SettingRow, TABLES, TASKS, Table, TaskRow, USERS, UserRow, describe,
};

/// What `tasklane copy` asks of each side.
#[async_trait]
pub trait CopyStore: Send + Sync {
    /// Every table of the database (but the backend's own) and its columns.
    async fn copy_columns(&self) -> Result<Vec<(String, Vec<String>)>>;

    /// The row count of each table in [`TABLES`].
    async fn copy_counts(&self) -> Result<Vec<u64>>;

    /// How many rows of the tables derived from the copied ones ([`DERIVED`]) differ from
    /// what the copied rows make them (run [`DERIVED_DRIFT`]): 0 for a faithful target.
    async fn derived_drift(&self) -> Result<u64>;

    /// Sends every table's rows, read in one snapshot (see [`Chunk`]).
    async fn export(&self, tx: mpsc::Sender<Chunk>) -> Result<()>;

    /// Writes what `rx` brings into this (empty) database in one transaction, committed
    /// (and synced) only once the source has sent everything.
    async fn import(&self, rx: mpsc::Receiver<Chunk>, target: Target) -> Result<()>;
}

/// What a target must hold for an import to go ahead (checked in its transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing at all: `tasklane copy`.
    Empty,
    /// No accounts (so no tasks, events or tokens); settings, such as those a server that
    /// started on it made, may be there: `tasklane import-django`.
    NoAccounts,
}

impl Target {
    /// Why a target holding `counts` (per [`TABLES`]) is refused, if it is.
    pub fn refusal(self, counts: &[u64]) -> Option<String> {
        match self {
            Target::Empty if counts.iter().any(|&n| n > 0) => Some(format!(
                "the target already holds data ({})",
                describe(counts)
            )),
            Target::NoAccounts if counts[USERS] > 0 => Some(format!(
                "the target already holds {} accounts",
                counts[USERS]
            )),
            _ => None,
        }
    }
}

/// How far a copy has come.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The table being copied.
    pub table: &'static str,
    pub table_done: u64,
    pub table_total: u64,
    pub done: u64,
    pub total: u64,
}

/// What a finished copy reports.
#[derive(Debug)]
pub struct Report {
    /// Each table's name and row count, in copy order.
    pub tables: Vec<(&'static str, u64)>,
    /// The target's id high-water marks after the copy.
    pub high_water: BTreeMap<&'static str, i64>,
}

/// Chunks in flight between reader, checker and writer: enough to keep both busy.
pub(super) const IN_FLIGHT: usize = 4;

/// Copies everything in `from` into `to`, which must hold nothing (no row in any table),
/// then reads `to` back and checks it against what was read. `progress` is called as
/// chunks reach the target.
pub async fn copy(from: &Store, to: &Store, mut progress: impl FnMut(Progress)) -> Result<Report> {
    check_tables(from, "source").await?;
    check_tables(to, "target").await?;
    let held = to.copy_counts().await?;
    if held.iter().any(|&n| n > 0) {
        return Err(StoreError::Other(format!(
            "the target already holds data ({}): copy into a new SQLite file or an empty \
             PostgreSQL database (one a server has never started on)",
            describe(&held)
        )));
    }

    let (src_tx, mut src_rx) = mpsc::channel(IN_FLIGHT);
    let (dst_tx, dst_rx) = mpsc::channel(IN_FLIGHT);
    let reader = {
        let from = from.clone();
        tokio::spawn(async move { from.export(src_tx).await })
    };
    let writer = {
        let to = to.clone();
        tokio::spawn(async move { to.import(dst_rx, Target::Empty).await })
    };

    let mut tally = Tally::new();
    let mut done = 0;
    let mut table_done = vec![0u64; TABLES.len()];
    while let Some(chunk) = src_rx.recv().await {
        tally.take(&chunk)?;
        let shown = match &chunk {
            Chunk::Rows { table, rows } => Some((*table, rows.len() as u64)),
            _ => None,
        };
        if dst_tx.send(chunk).await.is_err() {
            break; // the writer failed; its error says why
        }
        if let Some((t, n)) = shown {
            done += n;
            table_done[t] += n;
            progress(Progress {
                table: TABLES[t].name,
                table_done: table_done[t],
                table_total: tally.plan.get(t).copied().unwrap_or(0),
                done,
                total: tally.plan.iter().sum(),
            });
        }
    }
    drop(src_rx);
    drop(dst_tx);
    let written = join(writer).await;
    let read = join(reader).await;
    // When one side fails the other is abandoned: report the failure, not that.
    match (written, read) {
        (Err(e), Err(r)) if is_abandoned(&e) => return Err(r),
        (Err(e), _) | (_, Err(e)) => return Err(e),
        _ => {}
    }
    let plan = tally.plan.clone();
    let copied = tally.finish()?;
    let read: Vec<u64> = copied.tables.iter().map(|t| t.0).collect();
    if read != plan {
        return Err(StoreError::Other(format!(
            "the source's snapshot counted {plan:?} rows but {read:?} were read"
        )));
    }

    // Read the target back, exactly as the source was read.
    let back = summarize(to).await?;
    for (i, t) in TABLES.iter().enumerate() {
        let (n, h) = copied.tables[i];
        let (m, g) = back.tables[i];
        if n != m || h != g {
            return Err(StoreError::Other(format!(
                "check failed: {} has {m} rows in the target after copying {n} (or their \
                 contents differ); the target is not a faithful copy",
                t.name
            )));
        }
    }
    let drift = to.derived_drift().await?;
    if drift > 0 {
        return Err(StoreError::Other(format!(
            "check failed: {drift} of the target's task counts differ from its tasks"
        )));
    }
    for (name, &v) in &copied.high_water {
        let w = back.high_water.get(name).copied().unwrap_or(0);
        if w < v {
            return Err(StoreError::Other(format!(
                "check failed: the target would hand out {name} ids from {} on, but the \
                 source had reached {v}",
                w + 1
            )));
        }
    }
    Ok(Report {
        tables: TABLES
            .iter()
            .zip(&copied.tables)
            .map(|(t, (n, _))| (t.name, *n))
            .collect(),
        high_water: back.high_water,
    })
}

/// The error a side gives when the other side went away.
pub fn abandoned() -> StoreError {
    StoreError::Other(ABANDONED.into())
}

const ABANDONED: &str = "the copy was abandoned";

fn is_abandoned(e: &StoreError) -> bool {
    matches!(e, StoreError::Other(m) if m == ABANDONED)
}

pub(super) async fn join(task: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    task.await
        .map_err(|e| StoreError::Other(format!("copy task failed: {e}")))?
}

/// Tables that are not copied: the target's triggers build them from the rows copied
/// (`task_counts`, the list's totals), and the copy checks them ([`DERIVED_DRIFT`]).
pub const DERIVED: &[&str] = &["task_counts"];

/// The rows of `task_counts` (non-zero ones) that are not what counting `tasks` gives,
/// and the counts missing from it, on either backend.
pub const DERIVED_DRIFT: &str = "WITH recount AS (SELECT CASE WHEN project_id IS NULL \
     THEN user_id ELSE 0 END AS user_id, COALESCE(project_id, 0) AS project_id, \
     COUNT(*) AS tasks, SUM(CASE WHEN completed THEN 1 ELSE 0 END) AS done \
     FROM tasks GROUP BY 1, 2) \
     SELECT (SELECT COUNT(*) FROM (SELECT user_id, project_id, tasks, done FROM task_counts \
     WHERE tasks <> 0 OR done <> 0 EXCEPT SELECT * FROM recount) AS extra) \
     + (SELECT COUNT(*) FROM (SELECT * FROM recount EXCEPT \
     SELECT user_id, project_id, tasks, done FROM task_counts) AS missing)";

/// Refuses a database whose tables or columns are not exactly [`TABLES`]' (and the
/// [`DERIVED`] ones).
async fn check_tables(store: &Store, side: &str) -> Result<()> {
    let mut actual = store.copy_columns().await?;
    actual.retain(|(t, _)| !DERIVED.contains(&t.as_str()));
    let expected: BTreeMap<String, Vec<String>> = TABLES
        .iter()
        .map(|t| {
            let mut cols: Vec<String> = t.columns.iter().map(|(c, _)| c.to_string()).collect();
            cols.sort();
            (t.name.to_string(), cols)
        })
        .collect();
    let actual: BTreeMap<String, Vec<String>> = actual
        .into_iter()
        .map(|(t, mut cols)| {
            cols.sort();
            (t, cols)
        })
        .collect();
    if actual != expected {
        let mut differences = Vec::new();
        for (t, cols) in &actual {
            match expected.get(t) {
                None => differences.push(format!("table {t} is not known to copy")),
                Some(want) => {
                    for c in cols.iter().filter(|c| !want.contains(c)) {
                        differences.push(format!("column {t}.{c} is not known to copy"));
                    }
                    for c in want.iter().filter(|c| !cols.contains(c)) {
                        differences.push(format!("column {t}.{c} is missing"));
                    }
                }
            }
        }
        for t in expected.keys().filter(|t| !actual.contains_key(*t)) {
            differences.push(format!("table {t} is missing"));
        }
        return Err(StoreError::Other(format!(
            "the {side}'s schema is not the one this tasklane copies: {}",
            differences.join("; ")
        )));
    }
    Ok(())
}
