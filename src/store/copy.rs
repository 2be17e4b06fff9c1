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

use std::collections::BTreeMap;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Result, Store, StoreError};

/// What `tasklane copy` asks of each side.
#[async_trait]
pub trait CopyStore: Send + Sync {
    /// Every table of the database (but the backend's own) and its columns.
    async fn copy_columns(&self) -> Result<Vec<(String, Vec<String>)>>;

    /// The row count of each table in [`TABLES`].
    async fn copy_counts(&self) -> Result<Vec<u64>>;

    /// Sends every table's rows, read in one snapshot (see [`Chunk`]).
    async fn export(&self, tx: mpsc::Sender<Chunk>) -> Result<()>;

    /// Writes what `rx` brings into this (empty) database in one transaction, committed
    /// (and synced) only once the source has sent everything.
    async fn import(&self, rx: mpsc::Receiver<Chunk>, target: Target) -> Result<()>;
}

/// The type of a column, as both backends store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SQLite `INTEGER`, PostgreSQL `BIGINT`.
    Int,
    /// SQLite `INTEGER`, PostgreSQL `INTEGER`.
    Int4,
    /// SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`.
    Bool,
    /// SQLite `REAL`, PostgreSQL `DOUBLE PRECISION`.
    Real,
    Text,
    /// SQLite `BLOB`, PostgreSQL `BYTEA`.
    Bytes,
}

/// One value, whichever database it came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    /// Bytes that identify the value and its kind, for the end-to-end check.
    fn digest_into(&self, h: &mut Sha256) {
        match self {
            Cell::Null => h.update([0]),
            Cell::Int(v) => {
                h.update([1]);
                h.update(v.to_le_bytes());
            }
            Cell::Bool(v) => h.update([2, u8::from(*v)]),
            Cell::Real(v) => {
                h.update([3]);
                h.update(v.to_bits().to_le_bytes());
            }
            Cell::Text(v) => {
                h.update([4]);
                h.update((v.len() as u64).to_le_bytes());
                h.update(v.as_bytes());
            }
            Cell::Bytes(v) => {
                h.update([5]);
                h.update((v.len() as u64).to_le_bytes());
                h.update(v);
            }
        }
    }

    /// Approximate size, to cut the stream into chunks of bounded memory.
    fn size(&self) -> usize {
        match self {
            Cell::Text(s) => s.len() + 8,
            Cell::Bytes(b) => b.len() + 8,
            _ => 8,
        }
    }
}

/// A table that is copied.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// The order rows are read in (a unique key, so both sides read the same order).
    pub order_by: &'static str,
    /// The table's `id` is handed out by the database (AUTOINCREMENT / identity), whose
    /// high-water mark must move past the copied ids.
    pub generated_id: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }
}

use Kind::{Bool, Bytes, Int, Int4, Real, Text};

/// Every table of the schema, parents before the tables that refer to them.
pub const TABLES: &[Table] = &[
    Table {
        name: "settings",
        columns: &[("key", Text), ("value", Text)],
        order_by: "key",
        generated_id: false,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("email", Text),
            ("password_hash", Text),
            ("is_active", Bool),
            ("created_at", Text),
            ("event_seq", Int),
            ("events_pruned_through", Int),
            ("credentials_generation", Int),
            // Set on a deleted account still being purged: the target's housekeeping
            // finishes the purge.
            ("deleted_at", Real),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "tasks",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("title", Text),
            ("description", Text),
            ("completed", Bool),
            ("created_at", Text),
            ("updated_at", Text),
            ("version", Int),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "events",
        columns: &[
            ("user_id", Int),
            ("seq", Int),
            ("action", Text),
            ("task_id", Int),
            ("task", Text),
            ("at", Text),
        ],
        order_by: "user_id, seq",
        generated_id: false,
    },
    Table {
        name: "refresh_tokens",
        columns: &[
            ("jti", Text),
            ("family", Text),
            ("user_id", Int),
            ("expires_at", Int),
            ("spent_at", Real),
            ("successor", Text),
            ("revoked_at", Real),
        ],
        order_by: "jti",
        generated_id: false,
    },
    Table {
        name: "idempotency_keys",
        columns: &[
            ("user_id", Int),
            ("key", Text),
            ("request_hash", Text),
            ("status", Int4),
            ("body", Text),
            ("created_at", Real),
        ],
        order_by: "user_id, key",
        generated_id: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("prefix", Text),
            ("scopes", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("expires_unix", Int),
            ("last_used_at", Text),
            ("revoked_at", Text),
        ],
        order_by: "id",
        generated_id: true,
    },
    Table {
        name: "throttle_hits",
        columns: &[("scope", Text), ("key", Bytes), ("at", Real)],
        // Not unique, but equal keys mean equal rows: the order of the copies doesn't
        // change what is read.
        order_by: "scope, key, at",
        generated_id: false,
    },
    Table {
        name: "stream_tickets",
        columns: &[
            ("ticket_hash", Text),
            ("user_id", Int),
            ("api_token_id", Int),
            ("scopes", Text),
            ("generation", Int),
            ("credential_expires_at", Int),
            ("expires_at", Real),
        ],
        order_by: "ticket_hash",
        generated_id: false,
    },
];

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
            Target::NoAccounts if counts[1] > 0 => {
                Some(format!("the target already holds {} accounts", counts[1]))
            }
            _ => None,
        }
    }
}

/// Rows per chunk, and about how many bytes of text a chunk holds at most.
pub const CHUNK_ROWS: usize = 2_000;
pub const CHUNK_BYTES: usize = 4 << 20;

/// What a source sends, in this order: the plan, every table's rows (table by table, in
/// [`TABLES`] order, in chunks), then the high-water marks.
#[derive(Debug)]
pub enum Chunk {
    /// The row count of each table in [`TABLES`] order, read in the snapshot.
    Plan(Vec<u64>),
    /// Rows of `TABLES[table]`, each with one cell per column.
    Rows { table: usize, rows: Vec<Vec<Cell>> },
    /// The last id handed out by each table with `generated_id`, by table index.
    HighWater(Vec<(usize, i64)>),
}

/// Collects rows into chunks of bounded size and sends them.
pub struct Chunker {
    table: usize,
    rows: Vec<Vec<Cell>>,
    bytes: usize,
}

impl Chunker {
    pub fn new(table: usize) -> Chunker {
        Chunker {
            table,
            rows: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a row; returns a full chunk to send, if this row filled one.
    pub fn push(&mut self, row: Vec<Cell>) -> Option<Chunk> {
        self.bytes += row.iter().map(Cell::size).sum::<usize>();
        self.rows.push(row);
        if self.rows.len() >= CHUNK_ROWS || self.bytes >= CHUNK_BYTES {
            self.take()
        } else {
            None
        }
    }

    /// The rows not sent yet, if any.
    pub fn take(&mut self) -> Option<Chunk> {
        if self.rows.is_empty() {
            return None;
        }
        self.bytes = 0;
        Some(Chunk::Rows {
            table: self.table,
            rows: std::mem::take(&mut self.rows),
        })
    }
}

/// What was copied (or read back): per table, rows and the SHA-256 over their cells in
/// order; and the high-water marks.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub tables: Vec<(u64, [u8; 32])>,
    pub high_water: BTreeMap<&'static str, i64>,
}

/// Takes in a source's chunks and sums them up.
struct Tally {
    plan: Vec<u64>,
    rows: Vec<u64>,
    hashers: Vec<Sha256>,
    high_water: BTreeMap<&'static str, i64>,
    ended: bool,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            plan: Vec::new(),
            rows: vec![0; TABLES.len()],
            hashers: TABLES.iter().map(|_| Sha256::new()).collect(),
            high_water: BTreeMap::new(),
            ended: false,
        }
    }

    fn take(&mut self, chunk: &Chunk) -> Result<()> {
        match chunk {
            Chunk::Plan(counts) => self.plan = counts.clone(),
            Chunk::Rows { table, rows } => {
                let h = &mut self.hashers[*table];
                for row in rows {
                    for cell in row {
                        cell.digest_into(h);
                    }
                }
                self.rows[*table] += rows.len() as u64;
            }
            Chunk::HighWater(marks) => {
                for &(t, v) in marks {
                    self.high_water.insert(TABLES[t].name, v);
                }
                self.ended = true;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Summary> {
        if !self.ended {
            return Err(StoreError::Other("the source ended early".into()));
        }
        Ok(Summary {
            tables: self
                .rows
                .into_iter()
                .zip(self.hashers)
                .map(|(n, h)| (n, h.finalize().into()))
                .collect(),
            high_water: self.high_water,
        })
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
const IN_FLIGHT: usize = 4;

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

/// Reads every table of `store` in one snapshot and sums it up, as the copy does.
pub async fn summarize(store: &Store) -> Result<Summary> {
    let (tx, mut rx) = mpsc::channel(IN_FLIGHT);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.export(tx).await })
    };
    let mut tally = Tally::new();
    while let Some(chunk) = rx.recv().await {
        tally.take(&chunk)?;
    }
    join(reader).await?;
    let plan = tally.plan.clone();
    let summary = tally.finish()?;
    let read: Vec<u64> = summary.tables.iter().map(|t| t.0).collect();
    if read != plan {
        return Err(StoreError::Other(format!(
            "the snapshot counted {plan:?} rows but {read:?} were read"
        )));
    }
    Ok(summary)
}

/// The error a side gives when the other side went away.
pub fn abandoned() -> StoreError {
    StoreError::Other(ABANDONED.into())
}

const ABANDONED: &str = "the copy was abandoned";

fn is_abandoned(e: &StoreError) -> bool {
    matches!(e, StoreError::Other(m) if m == ABANDONED)
}

async fn join(task: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    task.await
        .map_err(|e| StoreError::Other(format!("copy task failed: {e}")))?
}

/// "3 settings, 1 users" for the tables that hold rows.
pub fn describe(counts: &[u64]) -> String {
    let parts: Vec<String> = TABLES
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| format!("{n} {}", t.name))
        .collect();
    parts.join(", ")
}

/// Refuses a database whose tables or columns are not exactly [`TABLES`]'.
async fn check_tables(store: &Store, side: &str) -> Result<()> {
    let actual = store.copy_columns().await?;
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

/// A column's cell from SQLite's dynamic value, checked against its kind.
pub fn cell_from_sqlite(
    table: &Table,
    column: usize,
    value: rusqlite::types::Value,
) -> Result<Cell> {
    use rusqlite::types::Value as V;
    let (name, kind) = table.columns[column];
    Ok(match (kind, value) {
        (_, V::Null) => Cell::Null,
        (Int | Int4, V::Integer(v)) => Cell::Int(v),
        (Bool, V::Integer(v)) if v == 0 || v == 1 => Cell::Bool(v == 1),
        (Real, V::Real(v)) => Cell::Real(v),
        (Real, V::Integer(v)) => Cell::Real(v as f64),
        (Text, V::Text(v)) => Cell::Text(v),
        (Bytes, V::Blob(v)) => Cell::Bytes(v),
        (kind, value) => {
            return Err(StoreError::Other(format!(
                "{}.{name} holds {value:?}, not a {kind:?}",
                table.name
            )));
        }
    })
}
