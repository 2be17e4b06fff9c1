//! The PostgreSQL side of `tasklane copy` (see [`crate::store::copy`]): the source is read
//! in one `REPEATABLE READ` snapshot, the target written with binary `COPY` in one
//! transaction.

use async_trait::async_trait;

use std::pin::pin;

use futures_util::TryStreamExt;
use tokio::sync::mpsc;
use tokio_postgres::IsolationLevel;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::Postgres;
use crate::store::copy::{
    Cell, Chunk, Chunker, CopyStore, DERIVED_DRIFT, Kind, TABLES, Table, Target, abandoned,
};
use crate::store::{Result, StoreError};

#[async_trait]
impl CopyStore for Postgres {
    // Every table of the schema we live in but the migrations' record.
    async fn copy_columns(&self) -> Result<Vec<(String, Vec<String>)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT table_name::text, array_agg(column_name::text ORDER BY ordinal_position) \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> 'tasklane_migrations' \
                 GROUP BY table_name ORDER BY table_name",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn copy_counts(&self) -> Result<Vec<u64>> {
        let c = self.client().await?;
        counts(&c).await
    }

    async fn derived_drift(&self) -> Result<u64> {
        let c = self.client().await?;
        let n: i64 = c.query_one(DERIVED_DRIFT, &[]).await?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn export(&self, tx: mpsc::Sender<Chunk>) -> Result<()> {
        let mut c = self.client().await?;
        let snapshot = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let send = |chunk| async { tx.send(chunk).await.map_err(|_| abandoned()) };
        send(Chunk::Plan(counts(&snapshot).await?)).await?;
        for (i, table) in TABLES.iter().enumerate() {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {}",
                table.column_list(),
                table.name,
                table.order_by
            );
            let rows = snapshot
                .query_raw(sql.as_str(), std::iter::empty::<i64>())
                .await?;
            let mut rows = pin!(rows);
            let mut chunker = Chunker::new(i);
            while let Some(row) = rows.try_next().await? {
                let cells = (0..table.columns.len())
                    .map(|col| cell(table, &row, col))
                    .collect::<Result<Vec<Cell>>>()?;
                if let Some(chunk) = chunker.push(cells) {
                    send(chunk).await?;
                }
            }
            if let Some(chunk) = chunker.take() {
                send(chunk).await?;
            }
        }
        let mut marks = Vec::new();
        for (i, table) in TABLES.iter().enumerate().filter(|(_, t)| t.generated_id) {
            // The identity's last value can be past the largest id left (deleted rows,
            // rolled-back inserts); NULL when it never handed one out.
            let mark: i64 = snapshot
                .query_one(
                    &format!(
                        "SELECT greatest(\
                           coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass), 0), \
                           coalesce((SELECT max(id) FROM {}), 0))",
                        table.name
                    ),
                    &[&table.name],
                )
                .await?
                .try_get(0)?;
            marks.push((i, mark));
        }
        send(Chunk::HighWater(marks)).await?;
        snapshot.commit().await?;
        Ok(())
    }

    async fn import(&self, mut rx: mpsc::Receiver<Chunk>, target: Target) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Nobody writes the tables while we fill them (a server started on the target
        // meanwhile waits, then finds the copy).
        for t in TABLES {
            tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", t.name))
                .await?;
        }
        if let Some(why) = target.refusal(&counts(&tx).await?) {
            return Err(StoreError::Other(why));
        }
        let mut ended = false;
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Chunk::Plan(_) => {}
                Chunk::Rows { table, rows } => {
                    let t = &TABLES[table];
                    let sink = tx
                        .copy_in(&format!(
                            "COPY {} ({}) FROM STDIN BINARY",
                            t.name,
                            t.column_list()
                        ))
                        .await?;
                    let types: Vec<Type> = t.columns.iter().map(|(_, k)| pg_type(*k)).collect();
                    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
                    for row in rows {
                        let values = row
                            .into_iter()
                            .zip(t.columns)
                            .map(|(cell, (name, kind))| param(t, name, *kind, cell))
                            .collect::<Result<Vec<_>>>()?;
                        let refs: Vec<&(dyn ToSql + Sync)> = values
                            .iter()
                            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                            .collect();
                        writer.as_mut().write(&refs).await?;
                    }
                    writer.finish().await?;
                }
                Chunk::HighWater(marks) => {
                    for (table, mark) in marks {
                        let name = TABLES[table].name;
                        // Past the largest id copied too: the rows came with their ids.
                        tx.execute(
                            &format!(
                                "SELECT setval(pg_get_serial_sequence($1, 'id'), m) \
                                 FROM (SELECT greatest($2::bigint, max(id)) AS m FROM {name}) x \
                                 WHERE m > 0"
                            ),
                            &[&name, &mark],
                        )
                        .await?;
                    }
                    ended = true;
                }
            }
        }
        if !ended {
            // The source failed: dropping the transaction rolls it back.
            return Err(abandoned());
        }
        self.commit(tx).await
    }
}

async fn counts(c: &impl deadpool_postgres::GenericClient) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {}", t.name), &[])
            .await?
            .try_get(0)?;
        out.push(n as u64);
    }
    Ok(out)
}

fn pg_type(kind: Kind) -> Type {
    match kind {
        Kind::Int => Type::INT8,
        Kind::Int4 => Type::INT4,
        Kind::Bool => Type::BOOL,
        Kind::Real => Type::FLOAT8,
        Kind::Text => Type::TEXT,
        Kind::Bytes => Type::BYTEA,
    }
}

/// Column `col` of `row` as a cell.
fn cell(table: &Table, row: &tokio_postgres::Row, col: usize) -> Result<Cell> {
    let kind = table.columns[col].1;
    Ok(match kind {
        Kind::Int => row.try_get::<_, Option<i64>>(col)?.map(Cell::Int),
        Kind::Int4 => row
            .try_get::<_, Option<i32>>(col)?
            .map(|v| Cell::Int(v.into())),
        Kind::Bool => row.try_get::<_, Option<bool>>(col)?.map(Cell::Bool),
        Kind::Real => row.try_get::<_, Option<f64>>(col)?.map(Cell::Real),
        Kind::Text => row.try_get::<_, Option<String>>(col)?.map(Cell::Text),
        Kind::Bytes => row.try_get::<_, Option<Vec<u8>>>(col)?.map(Cell::Bytes),
    }
    .unwrap_or(Cell::Null))
}

/// A cell as a parameter of the column's type.
fn param(
    table: &Table,
    column: &str,
    kind: Kind,
    cell: Cell,
) -> Result<Box<dyn ToSql + Sync + Send>> {
    let wrong = |cell: &Cell| {
        StoreError::Other(format!(
            "{}.{column} cannot hold {cell:?} (a {kind:?} column)",
            table.name
        ))
    };
    Ok(match (kind, cell) {
        (Kind::Int, Cell::Null) => Box::new(None::<i64>),
        (Kind::Int4, Cell::Null) => Box::new(None::<i32>),
        (Kind::Bool, Cell::Null) => Box::new(None::<bool>),
        (Kind::Real, Cell::Null) => Box::new(None::<f64>),
        (Kind::Text, Cell::Null) => Box::new(None::<String>),
        (Kind::Bytes, Cell::Null) => Box::new(None::<Vec<u8>>),
        (Kind::Int, Cell::Int(v)) => Box::new(v),
        (Kind::Int4, Cell::Int(v)) => Box::new(i32::try_from(v).map_err(|_| wrong(&Cell::Int(v)))?),
        (Kind::Bool, Cell::Bool(v)) => Box::new(v),
        (Kind::Real, Cell::Real(v)) => Box::new(v),
        (Kind::Text, Cell::Text(v)) => Box::new(v),
        (Kind::Bytes, Cell::Bytes(v)) => Box::new(v),
        (_, cell) => return Err(wrong(&cell)),
    })
}
