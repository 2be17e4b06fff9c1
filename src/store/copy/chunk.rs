//! What travels from a source to a target: [`Cell`]s, one value each whichever database
//! it came from, in rows of one table, cut by a [`Chunker`] into [`Chunk`]s of bounded
//! memory.

use sha2::{Digest, Sha256};

use super::tables::{Kind, Table};
use crate::store::{Result, StoreError};

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
    pub(super) fn digest_into(&self, h: &mut Sha256) {
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

/// Rows per chunk, and about how many bytes of text a chunk holds at most.
pub const CHUNK_ROWS: usize = 2_000;
pub const CHUNK_BYTES: usize = 4 << 20;

/// What a source sends, in this order: the plan, every table's rows (table by table, in
/// [`TABLES`](super::TABLES) order, in chunks), then the high-water marks.
#[derive(Debug)]
pub enum Chunk {
    /// The row count of each table in [`TABLES`](super::TABLES) order, read in the snapshot.
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

/// A column's cell from SQLite's dynamic value, checked against its kind.
pub fn cell_from_sqlite(
    table: &Table,
    column: usize,
    value: rusqlite::types::Value,
) -> Result<Cell> {
    use Kind::{Bool, Bytes, Int, Int4, Real, Text};
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
