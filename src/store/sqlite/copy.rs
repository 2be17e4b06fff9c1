//! The SQLite side of `tasklane copy` (see [`crate::store::copy`]).

use async_trait::async_trait;
use rusqlite::types::Value;
use tokio::sync::mpsc;

use super::Sqlite;
use crate::store::copy::{
    Cell, Chunk, Chunker, CopyStore, DERIVED_DRIFT, TABLES, Target, abandoned, cell_from_sqlite,
};
use crate::store::{Result, StoreError};

#[async_trait]
impl CopyStore for Sqlite {
    // Every table but SQLite's own, and but the search index (`task_search`, a virtual
    // table, and its shadow tables, and `task_search_pending`, its queue, empty at every
    // commit): the target's triggers rebuild it from the rows.
    async fn copy_columns(&self) -> Result<Vec<(String, Vec<String>)>> {
        self.run(|c| {
            let names: Vec<String> = c
                .prepare(
                    "SELECT name FROM pragma_table_list WHERE schema = 'main' \
                     AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                     AND name <> 'task_search_pending' \
                     ORDER BY name",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for name in names {
                let columns: Vec<String> = c
                    .prepare("SELECT name FROM pragma_table_info(?1)")?
                    .query_map([&name], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                out.push((name, columns));
            }
            Ok(out)
        })
        .await
    }

    async fn copy_counts(&self) -> Result<Vec<u64>> {
        self.run(|c| counts(c)).await
    }

    async fn derived_drift(&self) -> Result<u64> {
        self.run(|c| {
            let n: i64 = c.query_row(DERIVED_DRIFT, [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn export(&self, tx: mpsc::Sender<Chunk>) -> Result<()> {
        self.run(move |c| {
            // A read transaction: every statement below sees the same snapshot, whatever
            // the server writes meanwhile.
            let snapshot = c.transaction()?;
            tx.blocking_send(Chunk::Plan(counts(&snapshot)?))
                .map_err(|_| abandoned())?;
            for (i, table) in TABLES.iter().enumerate() {
                let mut stmt = snapshot.prepare(&format!(
                    "SELECT {} FROM {} ORDER BY {}",
                    table.column_list(),
                    table.name,
                    table.order_by
                ))?;
                let mut rows = stmt.query([])?;
                let mut chunker = Chunker::new(i);
                while let Some(row) = rows.next()? {
                    let mut cells = Vec::with_capacity(table.columns.len());
                    for col in 0..table.columns.len() {
                        cells.push(cell_from_sqlite(table, col, row.get::<_, Value>(col)?)?);
                    }
                    if let Some(chunk) = chunker.push(cells) {
                        tx.blocking_send(chunk).map_err(|_| abandoned())?;
                    }
                }
                if let Some(chunk) = chunker.take() {
                    tx.blocking_send(chunk).map_err(|_| abandoned())?;
                }
            }
            let mut marks = Vec::new();
            for (i, table) in TABLES.iter().enumerate().filter(|(_, t)| t.generated_id) {
                // AUTOINCREMENT's mark can be past the largest id left (deleted rows).
                let mark: i64 = snapshot.query_row(
                    &format!(
                        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0), \
                         coalesce((SELECT max(id) FROM {}), 0))",
                        table.name
                    ),
                    [table.name],
                    |r| r.get(0),
                )?;
                marks.push((i, mark));
            }
            tx.blocking_send(Chunk::HighWater(marks))
                .map_err(|_| abandoned())?;
            Ok(())
        })
        .await
    }

    async fn import(&self, mut rx: mpsc::Receiver<Chunk>, target: Target) -> Result<()> {
        self.write(move |tx| {
            if let Some(why) = target.refusal(&counts(tx)?) {
                return Err(StoreError::Other(why));
            }
            let mut ended = false;
            while let Some(chunk) = rx.blocking_recv() {
                match chunk {
                    Chunk::Plan(_) => {}
                    Chunk::Rows { table, rows } => {
                        let t = &TABLES[table];
                        let marks = vec!["?"; t.columns.len()].join(", ");
                        let mut stmt = tx.prepare_cached(&format!(
                            "INSERT INTO {} ({}) VALUES ({marks})",
                            t.name,
                            t.column_list()
                        ))?;
                        for row in rows {
                            stmt.execute(rusqlite::params_from_iter(row.into_iter().map(value)))?;
                        }
                    }
                    Chunk::HighWater(marks) => {
                        for (table, mark) in marks {
                            let name = TABLES[table].name;
                            let moved = tx.execute(
                                "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                                rusqlite::params![name, mark],
                            )?;
                            if moved == 0 && mark > 0 {
                                tx.execute(
                                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                                    rusqlite::params![name, mark],
                                )?;
                            }
                        }
                        ended = true;
                    }
                }
            }
            if !ended {
                // The source failed: roll back, leaving the target empty.
                return Err(abandoned());
            }
            // The triggers queued every task for the search index as it was inserted;
            // index them, then check the index against the rows before committing.
            super::task_list::flush_search(tx)?;
            tx.execute_batch(
                "INSERT INTO task_search (task_search, rank) VALUES ('integrity-check', 1)",
            )?;
            Ok(())
        })
        .await
    }
}

fn counts(c: &rusqlite::Connection) -> Result<Vec<u64>> {
    TABLES
        .iter()
        .map(|t| {
            let n: i64 = c.query_row(&format!("SELECT count(*) FROM {}", t.name), [], |r| {
                r.get(0)
            })?;
            Ok(n as u64)
        })
        .collect()
}

fn value(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(v) => Value::Integer(v),
        Cell::Bool(v) => Value::Integer(i64::from(v)),
        Cell::Real(v) => Value::Real(v),
        Cell::Text(v) => Value::Text(v),
        Cell::Bytes(v) => Value::Blob(v),
    }
}
