//! The copy's end-to-end check: what a source sent, or a database reads back, summed up
//! per table (its row count and the SHA-256 over its cells in order) with the id
//! high-water marks, so that the two can be compared.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Chunk, IN_FLIGHT, TABLES, join};
use crate::store::{Result, Store, StoreError};

/// What was copied (or read back): per table, rows and the SHA-256 over their cells in
/// order; and the high-water marks.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub tables: Vec<(u64, [u8; 32])>,
    pub high_water: BTreeMap<&'static str, i64>,
}

/// Takes in a source's chunks and sums them up.
pub(super) struct Tally {
    pub(super) plan: Vec<u64>,
    rows: Vec<u64>,
    hashers: Vec<Sha256>,
    high_water: BTreeMap<&'static str, i64>,
    ended: bool,
}

impl Tally {
    pub(super) fn new() -> Tally {
        Tally {
            plan: Vec::new(),
            rows: vec![0; TABLES.len()],
            hashers: TABLES.iter().map(|_| Sha256::new()).collect(),
            high_water: BTreeMap::new(),
            ended: false,
        }
    }

    pub(super) fn take(&mut self, chunk: &Chunk) -> Result<()> {
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

    pub(super) fn finish(self) -> Result<Summary> {
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
